"""A generation through the host's own call path (``process_images`` → ``create_sampler`` →
``KDiffusionSampler.sample`` → ``initialize``) on a toy model: our function runs with the settings as
keyword arguments, the infotext carries them and pasting it back reproduces the image, flow models are
detected per host, and stochastic samplers get seeded, batch-consistent noise."""

from __future__ import annotations

import inspect

import pytest
import torch

from momentum_samplers.a1111 import naming
from momentum_samplers.a1111.sampler import MOMENTUM_NOISE_KWARG
from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.sampling.params import Param, SamplerSpec


def other_value(param: Param):
    """A valid value different from the default."""
    if param.kind == "bool":
        return not param.default
    if param.kind == "choice":
        return next(c for c in param.choices if c != param.default)
    if param.kind == "int":
        return param.min if param.default != param.min else param.max
    low = param.widget_range()[0]
    value = round((low + param.default) / 2, 2)
    return value if value != param.default else round((param.default + param.max) / 2, 2)


def overrides(spec: SamplerSpec) -> dict:
    return {naming.option_key(spec, p): other_value(p) for p in spec.params}


def run(host, spec_label, **kwargs):
    p = host.processing.StableDiffusionProcessing(sampler_name=spec_label, steps=kwargs.pop("steps", 6), **kwargs)
    samples, infotext = host.processing.process_images(p)
    return p, samples, infotext


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_settings_reach_the_function_and_the_infotext(host, name):
    spec = SAMPLER_SPECS[name]
    host.load_script()
    p, samples, infotext = run(host, spec.label, override_settings=overrides(spec))
    used = p.sampler.last_kwargs
    for param in spec.params:
        assert used[param.name] == other_value(param)
        assert p.extra_generation_params[naming.infotext_label(spec, param)] == other_value(param)
    assert used["model_family"] == "ve"
    assert torch.isfinite(samples).all()
    assert p.sampler.steps_reported[0] == 0
    if not spec.stochastic:  # exactly our function with those arguments
        x = p.rng.__class__(p.rng.shape, p.seeds).next()
        sigmas = p.sampler.get_sigmas(p, p.steps)
        direct = spec.fn(p.sampler.model_wrap_cfg, x * sigmas[0], sigmas, extra_args=p.sampler.sampler_extra_args,
                         disable=True, model_family="ve", **{q.name: other_value(q) for q in spec.params})
        assert torch.equal(samples, direct)
    # and the settings are restored afterwards
    assert all(getattr(host.shared.opts, k) == q.default for k, q in zip(overrides(spec), spec.params, strict=True))


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_pasting_the_infotext_back_reproduces_the_image(a1111, name):
    spec = SAMPLER_SPECS[name]
    a1111.load_script()
    _, samples, infotext = run(a1111, spec.label, override_settings=overrides(spec))
    params = a1111.infotext_utils.parse_generation_parameters(infotext)
    assert params["Sampler"] == spec.label
    pasted = a1111.infotext_utils.get_override_settings(params)  # "Send to txt2img" / PNG Info
    assert {key: value for _, key, value in pasted} == overrides(spec)
    _, again, _ = run(a1111, params["Sampler"], override_settings={key: value for _, key, value in pasted})
    assert torch.equal(samples, again)
    # API clients pass the same pairs as override_settings text
    pairs = [f"{label}: {params[label]}" for label, _, _ in pasted]
    assert a1111.infotext_utils.create_override_settings_dict(pairs) == overrides(spec)


def test_flow_detection_a1111(a1111, toys):
    a1111.load_script()
    for model, family in ((toys.ToyModel(), "ve"), (toys.ToySD3(), "flow")):
        a1111.shared.sd_model = model
        p, samples, _ = run(a1111, "GHVB")
        assert p.sampler.last_kwargs["model_family"] == family
        assert torch.isfinite(samples).all()


def test_flow_detection_forge(forge, toys):
    forge.load_script()
    models = (toys.ToyModel("ve", "eps"), toys.ToyModel("ve", "v_prediction"), toys.ToyModel("flow"), toys.ToySD3())
    for model, family in zip(models, ("ve", "ve", "flow", "flow"), strict=True):
        forge.shared.sd_model = model
        p, _, _ = run(forge, "DPM++ 2M HB")
        assert p.sampler.last_kwargs["model_family"] == family


def test_stochastic_noise_is_seeded_and_batch_consistent(host, toy_sde):
    host.load_script()
    p1, alone, _ = run(host, "Toy SDE", seed=7, batch_size=1)
    _, batch, _ = run(host, "Toy SDE", seed=7, batch_size=2)
    _, again, _ = run(host, "Toy SDE", seed=7, batch_size=1)
    assert p1.sampler.last_kwargs["noise_sampler"] is not None
    assert torch.equal(alone, again)
    assert torch.allclose(alone[0], batch[0], atol=1e-6)
    assert not torch.allclose(batch[0], batch[1])
    assert p1.sampler.config.total_steps(p1.steps) == 2 * p1.steps


def test_without_brownian_noise_the_images_seeds_still_drive_the_noise(host, toy_sde):
    host.load_script()
    settings = {"no_dpmpp_sde_batch_determinism": True}
    p, first, _ = run(host, "Toy SDE", seed=3, override_settings=dict(settings))
    _, second, _ = run(host, "Toy SDE", seed=3, override_settings=dict(settings))
    assert callable(p.sampler.last_kwargs["noise_sampler"])
    assert torch.equal(first, second)


@pytest.mark.parametrize("name", [n for n, s in SAMPLER_SPECS.items() if s.stochastic])
def test_registry_stochastic_samplers_are_reproducible_and_batch_consistent(a1111, name):
    spec = SAMPLER_SPECS[name]
    a1111.load_script()
    settings = {naming.option_key(spec, p): 1.0 for p in spec.params if p.name == "lambda_s"}
    _, alone, _ = run(a1111, spec.label, seed=11, batch_size=1, override_settings=dict(settings))
    _, again, _ = run(a1111, spec.label, seed=11, batch_size=1, override_settings=dict(settings))
    assert torch.equal(alone, again)
    _, batch, _ = run(a1111, spec.label, seed=11, batch_size=2, override_settings=dict(settings))
    # the adapter fills the per-image momentum stream through this keyword
    assert MOMENTUM_NOISE_KWARG in inspect.signature(spec.fn).parameters
    assert torch.allclose(alone[0], batch[0], atol=1e-5)


def test_our_eta_wins_over_the_hosts_eta(a1111):
    spec = next((s for s in SAMPLER_SPECS.values() if any(p.name == "eta" for p in s.params)), None)
    if spec is None:
        pytest.skip("no registry sampler has an eta parameter")
    a1111.load_script()
    p, _, infotext = run(a1111, spec.label, override_settings={"eta_ancestral": 0.5})
    assert "Eta" not in p.extra_generation_params
    assert p.sampler.last_kwargs["eta"] == spec.param("eta").default
    assert f"{spec.name} eta: " in infotext


def test_a_bad_setting_stops_the_run_with_its_name(a1111):
    a1111.load_script()
    with pytest.raises(ValueError, match="momentum_dpmpp_2m_hb_beta"):
        run(a1111, "DPM++ 2M HB", override_settings={"momentum_dpmpp_2m_hb_beta": 1.5})
    assert a1111.shared.opts.momentum_dpmpp_2m_hb_beta == SAMPLER_SPECS["dpmpp_2m_hb"].param("beta").default
