"""SAMPLER nodes, MODEL-options nodes and the host sampler function against a fake ComfyUI
(docs/hosts.md#comfyui): widgets generated from the parameter tables, KSAMPLER objects with fresh
options, the model family passed explicitly, stored options < node values, ``extra_args`` forwarded
untouched, and a bad value rejected by the sampler when it runs."""

from __future__ import annotations

import pytest
import torch

from momentum_samplers.nodes import naming
from momentum_samplers.nodes.host import host_sampler, model_family
from momentum_samplers.nodes.registration import register_stock_samplers
from momentum_samplers.nodes.schema import node_descriptions, options_node, sampler_node
from momentum_samplers.nodes.v3 import node_class, node_classes
from momentum_samplers.sampling import SAMPLER_SPECS, Param, SamplerSpec


class Spy:
    """A sampler function that records its keyword arguments and returns x."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, x, sigmas, extra_args=None, callback=None, disable=None, **kwargs):
        self.calls.append({"extra_args": extra_args, **kwargs})
        return x


def spy_spec() -> SamplerSpec:
    """A sampler with every parameter kind (bool and choice too, as stochastic samplers will have)."""
    return SamplerSpec(
        name="spy",
        label="Spy",
        fn=Spy(),
        params=(
            Param("strength", "float", 0.5, "strength", "How strong.", min=0.01, max=1.0, step=0.01),
            Param("order", "int", 2, "order", "How many.", min=1, max=4, step=1),
            Param("reduced", "bool", True, "reduced", "Cheaper."),
            Param("scheme", "choice", "BAOAB", "scheme", "Letters.", choices=("OBA", "BAOAB")),
        ),
        description="Records its calls.",
        family="test",
        stochastic=True,
    )


def gaussian_denoiser(flow: bool, s: float = 0.5):
    """Exact D(x; σ) for data N(0, s²): VE x = x0 + σε, flow x = (1 − σ)x0 + σε."""

    def denoise(x, sigma):
        sig = sigma.view(-1, *([1] * (x.ndim - 1)))
        a = 1 - sig if flow else torch.ones_like(sig)
        return x * a * s**2 / (a**2 * s**2 + sig**2)

    return denoise


def test_every_registry_sampler_has_a_sampler_node_and_an_options_node():
    ids = [n.node_id for n in node_descriptions()]
    for name, spec in SAMPLER_SPECS.items():
        assert naming.sampler_node_id(name) in ids and naming.options_node_id(name) in ids
        node = sampler_node(spec)
        assert node.category.startswith("sampling/custom_sampling/")
        assert [i.id for i in node.inputs] == [p.name for p in spec.params]
        assert [i.id for i in options_node(spec).inputs] == ["model"] + [p.name for p in spec.params]
        for i, p in zip(node.inputs, spec.params, strict=True):
            assert i.tooltip.startswith(p.tooltip) and p.tooltip.strip()


def test_widgets_come_from_the_parameter_table(fake_comfy):
    io = fake_comfy.io
    spec = spy_spec()
    schema = node_class(io, sampler_node(spec), spec).define_schema()
    assert schema.node_id == "MomentumSampler_spy"
    kinds = [type(i) for i in schema.inputs]
    assert kinds == [io.Float.Input, io.Int.Input, io.Boolean.Input, io.Combo.Input]
    strength, order, reduced, scheme = schema.inputs
    # the widget offers exactly the valid range, and floats are not rounded to the step
    assert (strength.default, strength.min, strength.max, strength.step, strength.round) == (0.5, 0.01, 1.0, 0.01, False)
    assert "[0.01, 1]" in strength.tooltip and strength.tooltip.startswith("How strong.")
    assert (order.default, order.min, order.max) == (2, 1, 4)
    assert reduced.default is True and reduced.tooltip == "Cheaper."
    assert scheme.options == ["OBA", "BAOAB"] and scheme.default == "BAOAB"
    assert [type(o) for o in schema.outputs] == [io.Sampler.Output]

    options_schema = node_class(io, options_node(spec), spec).define_schema()
    assert [type(i) for i in options_schema.inputs][:1] == [io.Model.Input]
    assert [type(o) for o in options_schema.outputs] == [io.Model.Output]


def test_real_registry_nodes_build(fake_comfy):
    classes = node_classes(fake_comfy.io)
    assert len(classes) == 2 * len(SAMPLER_SPECS)
    for cls in classes:
        schema = cls.define_schema()
        assert schema.display_name and schema.description and all(i.tooltip for i in schema.inputs)


def test_sampler_node_returns_a_ksampler_with_fresh_options(fake_comfy):
    spec = spy_spec()
    cls = node_class(fake_comfy.io, sampler_node(spec), spec)
    values = {"strength": 0.25, "order": 3, "reduced": False, "scheme": "OBA"}
    out1 = cls.execute(**values).result[0]
    out2 = cls.execute(**values).result[0]
    assert isinstance(out1, fake_comfy.samplers.KSAMPLER)
    assert out1.sampler_function is host_sampler(spec)
    assert out1.extra_options == values
    assert out1.extra_options is not out2.extra_options and out1.inpaint_options is not out2.inpaint_options


def test_options_node_stores_values_in_a_clone(fake_comfy, fake_patcher):
    spec = spy_spec()
    cls = node_class(fake_comfy.io, options_node(spec), spec)
    fake_patcher.model_options["momentum_samplers"] = {"other": {"x": 1}}
    values = {"strength": 0.3, "order": 1, "reduced": True, "scheme": "BAOAB"}
    patched = cls.execute(model=fake_patcher, **values).result[0]
    assert patched is not fake_patcher
    assert patched.model_options["momentum_samplers"] == {"other": {"x": 1}, "spy": values}
    assert fake_patcher.model_options["momentum_samplers"] == {"other": {"x": 1}}  # the input is untouched
    assert patched.model_options["transformer_options"] == {}


def test_a_bad_value_stops_the_run_naming_the_parameter(fake_comfy, fake_patcher, make_wrapped_model):
    """The nodes pass values on as they are (ComfyUI holds widgets to their ranges); a value that gets
    past it anyway (an API prompt, another pack's node) fails when the sampler runs, on both routes."""
    spec = SAMPLER_SPECS["ghvb"]
    model = make_wrapped_model(fake_comfy.model_sampling.EPS(), gaussian_denoiser(False))
    sigmas = torch.linspace(10.0, 0.0, 5, dtype=torch.float64)
    noise = torch.randn(1, 2, 4, 4, dtype=torch.float64) * 10
    sampler = node_class(fake_comfy.io, sampler_node(spec)).execute(order=3, beta=0.0).result[0]
    # ComfyUI shows the error as the KSampler's / SamplerCustom's: the message has to name the sampler
    with pytest.raises(ValueError) as err:
        sampler.sample(model, sigmas, {}, None, noise)
    assert str(err.value) == "GHVB (ms_ghvb): beta=0.0 is out of range: expected [0.01, 1]"
    patched = node_class(fake_comfy.io, options_node(spec)).execute(model=fake_patcher, order=9, beta=0.5).result[0]
    register_stock_samplers()
    with pytest.raises(ValueError) as err:
        fake_comfy.samplers.ksampler(naming.stock_name("ghvb")).sample(
            model, sigmas, {"model_options": patched.model_options}, None, noise)
    assert str(err.value) == ("GHVB (ms_ghvb): order=9 is out of range: expected [1, 4], "
                              "set by MomentumSamplerOptions_ghvb")
    # a SAMPLER node's value overrides the stored one, and the message says it came from there
    override = node_class(fake_comfy.io, sampler_node(spec)).execute(order=3, beta=5.0).result[0]
    with pytest.raises(ValueError) as err:
        override.sample(model, sigmas, {"model_options": patched.model_options}, None, noise)
    assert str(err.value) == "GHVB (ms_ghvb): beta=5.0 is out of range: expected [0.01, 1]"


def test_model_family_is_detected_by_class(fake_comfy, make_wrapped_model):
    ms = fake_comfy.model_sampling
    assert model_family(make_wrapped_model(ms.EPS(), None)) == "ve"
    assert model_family(make_wrapped_model(ms.V_PREDICTION(), None)) == "ve"
    assert model_family(make_wrapped_model(ms.X0(), None)) == "ve"
    assert model_family(make_wrapped_model(ms.CONST(), None)) == "flow"
    assert model_family(object()) == "ve"  # no model sampling found: the samplers' own default


def test_host_function_merges_options_and_forwards_extra_args(fake_comfy, make_wrapped_model):
    spec = spy_spec()
    fn = host_sampler(spec)
    model = make_wrapped_model(fake_comfy.model_sampling.CONST(), None)
    extra_args = {"model_options": {"momentum_samplers": {"spy": {"strength": 0.7, "order": 3, "junk": 1}}},
                  "seed": 5, "denoise_mask": None}
    x = torch.zeros(1, 2)
    fn(model, x, torch.tensor([1.0, 0.0]), extra_args=extra_args, order=4)  # a node's value wins
    call = spec.fn.calls[-1]
    assert call["extra_args"] is extra_args  # the same dict, untouched
    assert extra_args["model_options"]["momentum_samplers"]["spy"]["junk"] == 1
    assert {k: call[k] for k in ("strength", "order", "model_family")} == {
        "strength": 0.7, "order": 4, "model_family": "flow"}
    assert "junk" not in call

    fn(make_wrapped_model(fake_comfy.model_sampling.EPS(), None), x, torch.tensor([1.0, 0.0]))
    assert spec.fn.calls[-1] == {"extra_args": None, "model_family": "ve"}  # stock KSampler: defaults


@pytest.mark.parametrize("flow", [False, True])
def test_stock_name_runs_through_ksampler_and_reduces_to_euler(fake_comfy, make_wrapped_model, flow):
    register_stock_samplers()
    ms = fake_comfy.model_sampling.CONST() if flow else fake_comfy.model_sampling.EPS()
    model = make_wrapped_model(ms, gaussian_denoiser(flow))
    sigmas = torch.linspace(0.99 if flow else 10.0, 0.0, 9, dtype=torch.float64)
    noise = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * sigmas[0]
    ref = fake_comfy.samplers.ksampler("euler").sample(model, sigmas, {"seed": 1}, None, noise)
    ours = fake_comfy.samplers.ksampler(naming.stock_name("ghvb"), {"order": 1, "beta": 1.0}).sample(
        model, sigmas, {"seed": 1}, None, noise)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    # the stock KSampler path (no options) and the model-options path run too
    stock = fake_comfy.samplers.ksampler(naming.stock_name("ghvb")).sample(model, sigmas, {}, None, noise)
    stored = fake_comfy.samplers.ksampler(naming.stock_name("ghvb")).sample(
        model, sigmas, {"model_options": {"momentum_samplers": {"ghvb": {"order": 1, "beta": 1.0}}}}, None, noise)
    torch.testing.assert_close(stored, ref, rtol=0, atol=1e-12)
    assert torch.isfinite(stock).all() and not torch.equal(stock, ref)
