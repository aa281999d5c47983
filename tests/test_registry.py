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


def test_published_names_are_frozen_in_order():
    """Saved workflows and infotext refer to these: never rename, remove or reorder one; new samplers
    are appended."""
    published = ["plms_hb", "plms_nt", "ghvb", "dpmpp_2m_hb", "ams", "split_baoab", "split_obab", "split_oba",
                 "split_bao", "unipc_hb"]
    assert list(SAMPLER_SPECS)[: len(published)] == published


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
