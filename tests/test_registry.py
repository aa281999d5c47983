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


def test_core_names_are_frozen():
    """Saved workflows and infotext refer to these: never rename or remove one."""
    assert list(SAMPLER_SPECS)[:4] == ["plms_hb", "plms_nt", "ghvb", "dpmpp_2m_hb"]


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_k_diffusion_signature_with_table_defaults(name):
    spec = SAMPLER_SPECS[name]
    signature = inspect.signature(spec.fn)
    assert list(signature.parameters)[:6] == ["model", "x", "sigmas", "extra_args", "callback", "disable"]
    for param in spec.params:
        assert signature.parameters[param.name].default == param.default, param.name
        assert param.validate(param.default) == param.default
        assert param.tooltip and param.label
        if param.kind in ("float", "int"):
            assert param.min is not None and param.max is not None and param.step
    assert "model_family" in signature.parameters
    assert spec.fn.__doc__ and "spec" in spec.fn.__doc__


def test_validation_messages_name_the_parameter_and_range():
    beta = SAMPLER_SPECS["ghvb"].param("beta")
    with pytest.raises(ValueError, match=r"beta=0 is out of range: expected \(0, 1\]"):
        beta.validate(0)
    with pytest.raises(ValueError, match=r"order=5 is out of range: expected \[1, 4\]"):
        SAMPLER_SPECS["ghvb"].param("order").validate(5)
    with pytest.raises(TypeError, match="unexpected parameter"):
        validate_params(SAMPLER_SPECS["ghvb"].params, {"bta": 0.5})
    choice = Param("scheme", "choice", "BAOAB", "scheme", "t", choices=("OBA", "BAOAB"))
    assert choice.validate("baoab") == "BAOAB"
    flag = Param("reduced", "bool", True, "reduced", "t")
    assert flag.validate(0) is False
