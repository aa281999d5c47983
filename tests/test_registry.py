"""The registry and its declarative parameter tables: one description that both hosts and the
samplers' own validation read."""

from __future__ import annotations

import inspect
import re

import pytest

from momentum_samplers.sampling import SAMPLER_SPECS, SAMPLERS, Param, validate_params

NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def test_names_are_stable_lower_snake_case_and_map_to_functions():
    assert list(SAMPLERS) == list(SAMPLER_SPECS)
    for name, spec in SAMPLER_SPECS.items():
        assert NAME.match(name) and spec.name == name
        assert SAMPLERS[name] is spec.fn
        assert spec.fn.__name__ == f"sample_{name}"


# Every published name, written out: (sampler, ComfyUI stock-list name, A1111 label,
# ((parameter, A1111 option key, infotext label), ...)). Saved workflows, API prompts, users' settings
# and PNG infotext hold these (docs/hosts.md#frozen-names). Never edit an entry; append new samplers
# (and new parameters at the end of their sampler's tuple).
FROZEN = (
    ('plms_hb', 'ms_plms_hb', 'PLMS HB', (
        ('order', 'momentum_plms_hb_order', 'plms_hb order'),
        ('beta', 'momentum_plms_hb_beta', 'plms_hb beta'),
    )),
    ('plms_nt', 'ms_plms_nt', 'PLMS NT', (
        ('order', 'momentum_plms_nt_order', 'plms_nt order'),
        ('beta', 'momentum_plms_nt_beta', 'plms_nt beta'),
    )),
    ('ghvb', 'ms_ghvb', 'GHVB', (
        ('order', 'momentum_ghvb_order', 'ghvb order'),
        ('beta', 'momentum_ghvb_beta', 'ghvb beta'),
    )),
    ('dpmpp_2m_hb', 'ms_dpmpp_2m_hb', 'DPM++ 2M HB', (
        ('beta', 'momentum_dpmpp_2m_hb_beta', 'dpmpp_2m_hb beta'),
    )),
    ('ams', 'ms_ams', 'AMS', (
        ('snr', 'momentum_ams_snr', 'ams snr'),
        ('eta', 'momentum_ams_eta', 'ams eta'),
        ('s_noise', 'momentum_ams_s_noise', 'ams s_noise'),
        ('variance_preserving', 'momentum_ams_variance_preserving', 'ams variance_preserving'),
    )),
    ('split_baoab', 'ms_split_baoab', 'Splitting BAOAB', (
        ('reduced', 'momentum_split_baoab_reduced', 'split_baoab reduced'),
        ('lam', 'momentum_split_baoab_lam', 'split_baoab lam'),
        ('friction', 'momentum_split_baoab_friction', 'split_baoab friction'),
        ('lambda_s', 'momentum_split_baoab_lambda_s', 'split_baoab lambda_s'),
        ('s_noise', 'momentum_split_baoab_s_noise', 'split_baoab s_noise'),
    )),
    ('split_obab', 'ms_split_obab', 'Splitting OBAB', (
        ('reduced', 'momentum_split_obab_reduced', 'split_obab reduced'),
        ('lam', 'momentum_split_obab_lam', 'split_obab lam'),
        ('friction', 'momentum_split_obab_friction', 'split_obab friction'),
        ('lambda_s', 'momentum_split_obab_lambda_s', 'split_obab lambda_s'),
        ('s_noise', 'momentum_split_obab_s_noise', 'split_obab s_noise'),
    )),
    ('split_oba', 'ms_split_oba', 'Splitting OBA', (
        ('reduced', 'momentum_split_oba_reduced', 'split_oba reduced'),
        ('lam', 'momentum_split_oba_lam', 'split_oba lam'),
        ('friction', 'momentum_split_oba_friction', 'split_oba friction'),
        ('lambda_s', 'momentum_split_oba_lambda_s', 'split_oba lambda_s'),
        ('s_noise', 'momentum_split_oba_s_noise', 'split_oba s_noise'),
    )),
    ('split_bao', 'ms_split_bao', 'Splitting BAO', (
        ('reduced', 'momentum_split_bao_reduced', 'split_bao reduced'),
        ('lam', 'momentum_split_bao_lam', 'split_bao lam'),
        ('friction', 'momentum_split_bao_friction', 'split_bao friction'),
        ('lambda_s', 'momentum_split_bao_lambda_s', 'split_bao lambda_s'),
        ('s_noise', 'momentum_split_bao_s_noise', 'split_bao s_noise'),
    )),
    ('unipc_hb', 'ms_unipc_hb', 'UniPC HB', (
        ('beta', 'momentum_unipc_hb_beta', 'unipc_hb beta'),
    )),
    ('adaptive_3m', 'ms_adaptive_3m', 'Adaptive 3M', (
        ('order', 'momentum_adaptive_3m_order', 'adaptive_3m order'),
        ('limit', 'momentum_adaptive_3m_limit', 'adaptive_3m limit'),
    )),
    ('sde_3m', 'ms_sde_3m', 'SDE 3M', (
        ('eta', 'momentum_sde_3m_eta', 'sde_3m eta'),
        ('eta_low', 'momentum_sde_3m_eta_low', 'sde_3m eta_low'),
        ('order', 'momentum_sde_3m_order', 'sde_3m order'),
        ('s_noise', 'momentum_sde_3m_s_noise', 'sde_3m s_noise'),
    )),
    ('adaptive_order', 'ms_adaptive_order', 'Adaptive Order', (
        ('order', 'momentum_adaptive_order_order', 'adaptive_order order'),
        ('limit', 'momentum_adaptive_order_limit', 'adaptive_order limit'),
        ('check', 'momentum_adaptive_order_check', 'adaptive_order check'),
    )),
    ('adaptive_blend', 'ms_adaptive_blend', 'Adaptive Blend', (
        ('order', 'momentum_adaptive_blend_order', 'adaptive_blend order'),
        ('beta', 'momentum_adaptive_blend_beta', 'adaptive_blend beta'),
        ('check', 'momentum_adaptive_blend_check', 'adaptive_blend check'),
    )),
)


def test_published_names_are_frozen_in_order():
    """Never rename, remove or reorder a sampler; new samplers are appended."""
    published = [entry[0] for entry in FROZEN]
    assert list(SAMPLER_SPECS)[: len(published)] == published


@pytest.mark.parametrize("entry", FROZEN, ids=lambda e: e[0])
def test_every_host_name_is_frozen(entry):
    from momentum_samplers.a1111 import naming as a1111_naming
    from momentum_samplers.nodes import naming as comfy_naming

    name, stock, label, params = entry
    spec = SAMPLER_SPECS[name]
    assert comfy_naming.stock_name(name) == stock
    assert comfy_naming.sampler_node_id(name) == f"MomentumSampler_{name}"
    assert comfy_naming.options_node_id(name) == f"MomentumSamplerOptions_{name}"
    assert spec.label == label
    current = [(p.name, a1111_naming.option_key(spec, p), a1111_naming.infotext_label(spec, p)) for p in spec.params]
    assert current[: len(params)] == list(params), "parameters are only ever appended"


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_k_diffusion_signature_with_keyword_only_parameters(name):
    """What both hosts call: k-diffusion's six leading arguments, then keywords only, ``model_family``
    among them (VE unless the host says otherwise)."""
    parameters = inspect.signature(SAMPLER_SPECS[name].fn).parameters
    assert list(parameters)[:6] == ["model", "x", "sigmas", "extra_args", "callback", "disable"]
    rest = list(parameters.values())[6:]
    assert rest and all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in rest)
    assert parameters["model_family"].default == "ve"


def test_validation_messages_name_the_parameter_and_the_widget_range():
    beta = SAMPLER_SPECS["ghvb"].param("beta")
    with pytest.raises(ValueError) as err:
        beta.validate(0)
    assert str(err.value) == "beta=0 is out of range: expected [0.01, 1]"
    with pytest.raises(ValueError, match=r"order=5 is out of range: expected \[1, 4\]"):
        SAMPLER_SPECS["ghvb"].param("order").validate(5)
    with pytest.raises(TypeError, match="unexpected parameter"):
        validate_params(SAMPLER_SPECS["ghvb"].params, {"bta": 0.5})
    choice = Param("scheme", "choice", "BAOAB", "scheme", "t", choices=("OBA", "BAOAB"))
    assert choice.validate("baoab") == "BAOAB"
    flag = Param("reduced", "bool", True, "reduced", "t")
    assert flag.validate(0) is False


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_every_numeric_range_is_closed_and_is_the_widget_range(name):
    """Validation, its message and both hosts' widgets say one thing: every value a widget can reach
    is valid, one step beyond either end is not, and the message states those ends."""
    for param in SAMPLER_SPECS[name].params:
        if param.kind not in ("float", "int"):
            continue
        low, high = param.widget_range()
        assert param.validate(low) == low and param.validate(high) == high
        assert param.validate(param.default) == param.default
        for outside in (low - param.step, high + param.step):
            with pytest.raises(ValueError) as err:
                param.validate(outside)
            message = str(err.value)
            assert message.endswith(param.range_text()) and message == message.strip()
            assert f"[{low:g}, {high:g}]" == param.range_text()
