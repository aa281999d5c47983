"""The names the A1111 family sees are derived from the registry, valid for the host's parsers, unique,
and frozen: option keys sit in users' config.json, infotext labels in their PNGs."""

from __future__ import annotations

import re

from momentum_samplers.a1111 import naming
from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.sampling.params import Param, SamplerSpec

# A1111 1.10.1 modules/infotext_utils.py re_param_code: the whole "key: value" item of a parameters line.
RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')

# Frozen: these exact strings must keep working forever (new samplers only add to them).
FROZEN_LABELS = {"plms_hb": "PLMS HB", "plms_nt": "PLMS NT", "ghvb": "GHVB", "dpmpp_2m_hb": "DPM++ 2M HB"}
FROZEN_SETTINGS = {
    ("plms_hb", "order"): ("momentum_plms_hb_order", "plms_hb order"),
    ("plms_hb", "beta"): ("momentum_plms_hb_beta", "plms_hb beta"),
    ("plms_nt", "order"): ("momentum_plms_nt_order", "plms_nt order"),
    ("plms_nt", "beta"): ("momentum_plms_nt_beta", "plms_nt beta"),
    ("ghvb", "order"): ("momentum_ghvb_order", "ghvb order"),
    ("ghvb", "beta"): ("momentum_ghvb_beta", "ghvb beta"),
    ("dpmpp_2m_hb", "beta"): ("momentum_dpmpp_2m_hb_beta", "dpmpp_2m_hb beta"),
}


def all_params():
    return [(spec, param) for spec in SAMPLER_SPECS.values() for param in spec.params]


def test_frozen_labels_aliases_keys_and_infotext_labels():
    for name, label in FROZEN_LABELS.items():
        spec = SAMPLER_SPECS[name]
        assert spec.label == label
        assert naming.sampler_aliases(spec)[0] == name
    for (name, param_name), (key, infotext) in FROZEN_SETTINGS.items():
        spec = SAMPLER_SPECS[name]
        param = spec.param(param_name)
        assert naming.option_key(spec, param) == key
        assert naming.infotext_label(spec, param) == infotext


def test_infotext_labels_survive_the_hosts_parser():
    for spec, param in all_params():
        label = naming.infotext_label(spec, param)
        assert naming.INFOTEXT_PATTERN.fullmatch(label), label
        line = f"Steps: 20, Sampler: {spec.label}, {label}: {param.default}, Seed: 1"
        assert dict(RE_PARAM.findall(line))[label] == str(param.default)


def test_names_are_unique():
    keys = [naming.option_key(s, p) for s, p in all_params()]
    labels = [naming.infotext_label(s, p) for s, p in all_params()]
    assert len(set(keys)) == len(keys)
    assert len(set(labels)) == len(labels)
    per_sampler = [{a.lower() for a in [s.label, *naming.sampler_aliases(s)]} for s in SAMPLER_SPECS.values()]
    assert len(set().union(*per_sampler)) == sum(len(names) for names in per_sampler)
    assert all(k.startswith(naming.OPTION_PREFIX) and k.isidentifier() for k in keys)


def test_options_follow_the_spec():
    def fn(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None, model_family=None):
        return x

    def fn_without_noise_sampler(model, x, sigmas, extra_args=None, callback=None, disable=None, model_family=None):
        return x

    p = (Param("beta", "float", 0.5, "beta", "", 0.0, 1.0, 0.01),)
    schedule = {"scheduler": naming.TUNED_SCHEDULE}
    plain = SamplerSpec("a", "A", fn, p, "", "x")
    assert naming.sampler_options(plain) == schedule
    two = SamplerSpec("b", "B", fn, p, "", "x", nfe_per_step=2, stochastic=True)
    assert naming.sampler_options(two) == {**schedule, "second_order": True, "brownian_noise": True}
    # the host passes noise_sampler= whenever brownian_noise is set: only where the function takes it
    odd = SamplerSpec("c", "C", fn_without_noise_sampler, p, "", "x", stochastic=True)
    assert naming.sampler_options(odd) == schedule
    for spec in SAMPLER_SPECS.values():
        options = naming.sampler_options(spec)
        assert options.get("second_order", False) == (spec.nfe_per_step >= 2)
        assert options.get("brownian_noise", False) == spec.stochastic


def test_setting_labels_are_human():
    spec = SAMPLER_SPECS["ghvb"]
    assert naming.setting_label(spec, spec.param("beta")) == "GHVB: beta"
