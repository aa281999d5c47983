"""Registration in the host's sampler list (see docs/hosts.md): every registry
sampler, by a callable of ours, idempotent across script reloads, Forge's add_sampler where it
exists, nothing of the host's shadowed, and no generic module name left in sys.modules."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from momentum_samplers.a1111 import naming
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parent.parent.parent


def ours(host):
    return [d for d in host.sd_samplers.all_samplers if getattr(d.constructor, "momentum_sampler", None)]


def test_every_registry_sampler_is_listed(host):
    host.load_script()
    sd = host.sd_samplers
    for spec in SAMPLER_SPECS.values():
        data = sd.all_samplers_map[spec.label]
        assert isinstance(data, host.sd_samplers_common.SamplerData)
        assert data.constructor.momentum_sampler == spec.name
        assert list(data.aliases) == naming.sampler_aliases(spec)
        assert data.options == naming.sampler_options(spec)
        assert sd.samplers_map[spec.label.lower()] == spec.label
        assert sd.samplers_map[spec.name] == spec.label
        assert spec.label in sd.visible_sampler_names()
        assert data in sd.samplers_for_img2img
    assert "Euler" in sd.all_samplers_map  # the host's own are untouched


def test_the_sampler_runs_our_function_not_a_host_name(host):
    host.load_script()
    for spec in SAMPLER_SPECS.values():
        sampler = host.sd_samplers.create_sampler(spec.label, host.shared.sd_model)
        assert isinstance(sampler, host.sd_samplers_kdiffusion.KDiffusionSampler)
        assert sampler.func is spec.fn
        assert sampler.config.name == spec.label


def test_a_reload_replaces_entries_in_place(host):
    host.load_script()
    first = [d.constructor for d in ours(host)]
    order = [d.name for d in host.sd_samplers.all_samplers]
    host.load_script()  # "Reload UI" executes every script again
    assert [d.name for d in host.sd_samplers.all_samplers] == order
    assert len(ours(host)) == len(SAMPLER_SPECS)
    assert all(a is not b for a, b in zip(first, [d.constructor for d in ours(host)], strict=True))
    assert set(host.sd_samplers.all_samplers_map) == set(order)


def test_the_list_is_extended_in_place(a1111):
    same_list = a1111.sd_samplers.all_samplers
    a1111.load_script()
    assert a1111.sd_samplers.all_samplers is same_list
    assert a1111.sd_samplers.set_samplers_calls == 2  # once by the host, once by us


def test_forge_add_sampler_is_used(forge, monkeypatch):
    added = []
    real = forge.sd_samplers.add_sampler
    monkeypatch.setattr(forge.sd_samplers, "add_sampler", lambda data: (added.append(data.name), real(data)))
    forge.load_script()
    assert added == [spec.label for spec in SAMPLER_SPECS.values()]
    assert all(spec.label in forge.sd_samplers.all_samplers_map for spec in SAMPLER_SPECS.values())


def test_a_stale_cached_lookup_is_cleared(host):
    label = SAMPLER_SPECS["ghvb"].label
    assert host.sd_samplers.get_sampler_and_scheduler(label, None)[0] == "DPM++ 2M"  # unknown → default
    host.load_script()
    assert host.sd_samplers.get_sampler_and_scheduler(label, None) == (label, "Automatic")


def test_labels_survive_the_hosts_scheduler_suffix_parsing(host):
    """``get_sampler_and_scheduler`` strips a trailing " <scheduler>" off the name it is given."""
    host.load_script()
    for spec in SAMPLER_SPECS.values():
        assert host.sd_samplers.get_sampler_and_scheduler(spec.label, None)[0] == spec.label
        assert host.sd_samplers.get_sampler_and_scheduler(f"{spec.label} Exponential", None) == (spec.label, "Exponential")


def test_a_taken_label_or_alias_is_never_shadowed(a1111, caplog):
    sd = a1111.sd_samplers
    foreign = a1111.sd_samplers_common.SamplerData("GHVB", lambda model: None, ["plms_hb"], {})
    sd.all_samplers.append(foreign)
    sd.all_samplers_map = {x.name: x for x in sd.all_samplers}
    sd.set_samplers()
    with caplog.at_level(logging.WARNING, logger="momentum_samplers"):
        a1111.load_script()
    assert sd.all_samplers_map["GHVB"] is foreign
    assert sd.samplers_map["plms_hb"] == "GHVB"
    assert "plms_hb" not in sd.all_samplers_map["PLMS HB"].aliases
    assert "already a sampler" in caplog.text and "taken" in caplog.text


def test_new_registry_samplers_are_picked_up(host, toy_sde):
    host.load_script()
    data = host.sd_samplers.all_samplers_map["Toy SDE"]
    assert data.options == {"scheduler": naming.TUNED_SCHEDULE, "second_order": True, "brownian_noise": True}
    assert data.total_steps(10) == 20


def test_no_generic_module_names(host):
    """The script leaves only ``momentum_samplers.*`` behind: no top-level module named after a file or
    folder of the extension (``sampling``, ``nodes``, ``a1111``, the script itself, …)."""
    generic = {p.stem for p in ROOT.iterdir() if p.suffix == ".py" or (p.is_dir() and not p.name.startswith("."))}
    generic |= {"momentum_samplers_a1111", "momentum_samplers_a1111.py"}
    before = set(sys.modules)
    module = host.load_script()
    assert module.__name__ == "momentum_samplers_a1111.py"  # a loose module, as the host loads it
    new = set(sys.modules) - before
    assert not {name.split(".")[0] for name in new} & generic
    assert not generic & set(sys.modules)
