"""Robustness rules every registered sampler follows (docs/conventions.md): any non-increasing schedule, batch independence, dtype/device/rank preservation, ``extra_args``
forwarding, one callback per step, the progress bar, and clear errors for bad input."""

from __future__ import annotations

import math
import re

import pytest
import torch
from core_models import GaussianDenoiser, NaNAfter

from momentum_samplers.sampling import SAMPLER_SPECS, ModelOutputError

ALL = list(SAMPLER_SPECS)
DETERMINISTIC = [name for name, spec in SAMPLER_SPECS.items() if not spec.stochastic]
SCHEDULE = torch.tensor([14.6, 8.0, 4.0, 2.0, 1.0, 0.5, 0.2, 0.0], dtype=torch.float64)


def run(name, model, x, sigmas, **kwargs):
    kwargs.setdefault("disable", True)
    return SAMPLER_SPECS[name].fn(model, x, sigmas, **kwargs)


def start(shape=(2, 4, 8, 8), dtype=torch.float64, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype) * 14.6


@pytest.mark.parametrize("name", ALL)
def test_single_sigma_returns_x_untouched(name):
    model = GaussianDenoiser()
    x = start()
    out = run(name, model, x, SCHEDULE[:1])
    assert torch.equal(out, x)
    assert model.calls == []


def exact_flow(x: torch.Tensor, sigma: float, sigma_to: float, mean: float, var: float) -> torch.Tensor:
    """The probability-flow ODE's exact solution for N(mean, var) data: the offset from the mean scales
    with the marginal's std, sqrt(var + σ²)."""
    return mean + (x - mean) * math.sqrt(var + sigma_to**2) / math.sqrt(var + sigma**2)


def relative_error(out: torch.Tensor, reference: torch.Tensor, mean: float) -> float:
    return float((out - reference).norm() / (reference - mean).norm())


# Parameters at which each stochastic sampler is k-diffusion's Euler ancestral (docs/splitting.md#reductions,
# docs/ams.md#reductions).
EULER_ANCESTRAL = {"ams": {"snr": 0.0, "eta": 1.0}, "sde_3m": {"order": 1, "eta": 1.0, "eta_low": 1.0},
                   **{name: {"lam": 0.0, "lambda_s": 1.0} for name in ("split_baoab", "split_obab", "split_oba",
                                                                      "split_bao")}}
EULER_ANCESTRAL = {k: v for k, v in EULER_ANCESTRAL.items() if k in SAMPLER_SPECS}


def test_every_stochastic_sampler_has_its_reduction_listed():
    missing = [n for n, s in SAMPLER_SPECS.items() if s.stochastic and n not in EULER_ANCESTRAL]
    assert not missing, f"add the parameters at which {missing} is Euler ancestral to EULER_ANCESTRAL"
LOW = torch.tensor([0.83, 0.32, 0.11, 0.03, 0.0], dtype=torch.float64)  # img2img / denoise < 1


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_partial_and_img2img_schedules_follow_the_exact_solution(name):
    """Last sigma above 0 (KSamplerAdvanced end_at_step, chained samplers) ends on the ODE's solution at
    that sigma, not a denoised image; a low first sigma (img2img) starts there. Four steps put every
    sampler within 10 % of the exact flow; stopping at 0 instead of 1, or starting as if at 14.6, is
    off by 40 % or more."""
    mean, var = 0.5, 1.0
    model = GaussianDenoiser(mean=mean, var=var)
    x = start()
    partial = run(name, model, x, SCHEDULE[:5])  # ends at σ = 1
    assert relative_error(partial, exact_flow(x, 14.6, 1.0, mean, var), mean) < 0.1
    y = x / 14.6 * math.sqrt(var + 0.83**2)
    img2img = run(name, model, y, LOW)
    assert relative_error(img2img, exact_flow(y, 0.83, 0.0, mean, var), mean) < 0.1


@pytest.mark.parametrize("name", list(EULER_ANCESTRAL))
def test_stochastic_partial_and_img2img_schedules_are_euler_ancestral_at_the_reduction(name, kdiff):
    """The stochastic samplers handle a partial and an img2img schedule as k-diffusion's Euler ancestral
    does (same noise; at the parameters where they reduce to it), noise added at a last step above 0."""
    from stochastic_support import seeded_noise

    model = GaussianDenoiser(mean=0.5, var=1.0)
    for x, sigmas in ((start(), SCHEDULE[:5]), (start() / 14.6 * math.sqrt(1 + 0.83**2), LOW)):
        ours = run(name, model, x, sigmas, noise_sampler=seeded_noise(x, 4), **EULER_ANCESTRAL[name])
        theirs = kdiff.sample_euler_ancestral(model, x, sigmas, disable=True, noise_sampler=seeded_noise(x, 4))
        assert (ours - theirs).abs().max() <= 1e-12


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_repeated_sigma_is_a_zero_length_step(name):
    """A repeated value moves nothing and divides by nothing: same result as without the repeat."""
    model = GaussianDenoiser()
    x = start()
    once = run(name, model, x, SCHEDULE)
    repeated = torch.cat([SCHEDULE[:3], SCHEDULE[2:3], SCHEDULE[3:], SCHEDULE[-1:]])  # 4.0 twice, 0 twice
    twice = run(name, model, x, repeated)
    assert torch.isfinite(twice).all()
    assert (twice - once).abs().max() <= 1e-12


@pytest.mark.parametrize("name", ALL)
def test_repeated_sigma_stays_finite(name):
    model = GaussianDenoiser()
    repeated = torch.cat([SCHEDULE[:3], SCHEDULE[2:3], SCHEDULE[3:], SCHEDULE[-1:]])
    assert torch.isfinite(run(name, model, start(), repeated)).all()


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_batch_items_are_independent(name):
    model = GaussianDenoiser(mean=torch.linspace(-1, 1, 8, dtype=torch.float64).reshape(1, 1, 1, 8))
    x = start(shape=(3, 4, 8, 8))
    together = run(name, model, x, SCHEDULE)
    for i in range(3):
        alone = run(name, model, x[i : i + 1], SCHEDULE)
        assert (together[i : i + 1] - alone).abs().max() <= 1e-12


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("name", ALL)
def test_output_keeps_input_dtype_and_device(name, dtype):
    model = GaussianDenoiser()
    x = start(dtype=dtype)
    out = run(name, model, x, SCHEDULE.to(torch.float32))
    assert out.dtype == dtype and out.device == x.device
    assert torch.isfinite(out).all()
    reference = run(name, model, x.double(), SCHEDULE) if not SAMPLER_SPECS[name].stochastic else None
    if reference is not None:
        tol = {torch.float16: 2e-2, torch.bfloat16: 1e-1, torch.float32: 1e-4}[dtype]
        assert (out.double() - reference).abs().max() <= tol


@pytest.mark.parametrize("name", ALL)
def test_video_latents_of_rank_5(name):
    """A video latent (batch, channels, frames, h, w) is sampled as the same values laid out in rank 4:
    per-item reductions and noise cover every frame (the stochastic samplers at their Euler-ancestral
    reduction, whose noise is the host's); the deterministic samplers land within 15 % of
    the exact solution (all frames denoised, none left noisy)."""
    from stochastic_support import seeded_noise

    mean, var = 0.5, 1.0
    x = start(shape=(2, 4, 3, 8, 8))
    flat = x.reshape(2, 4, 24, 8)
    stochastic = SAMPLER_SPECS[name].stochastic
    # stochastic ones at their Euler-ancestral reduction: their own momentum stream is drawn per shape
    video = run(name, GaussianDenoiser(mean=mean, var=var), x, SCHEDULE,
                **({"noise_sampler": seeded_noise(x, 6), **EULER_ANCESTRAL[name]} if stochastic else {}))
    image = run(name, GaussianDenoiser(mean=mean, var=var), flat, SCHEDULE,
                **({"noise_sampler": seeded_noise(flat, 6), **EULER_ANCESTRAL[name]} if stochastic else {}))
    assert video.shape == x.shape
    assert (video - image.reshape(x.shape)).abs().max() <= 1e-12
    if not stochastic:
        assert relative_error(video, exact_flow(x, 14.6, 0.0, mean, var), mean) < 0.15


@pytest.mark.parametrize("name", ALL)
def test_extra_args_forwarded_untouched_and_callback_once_per_step(name):
    model = GaussianDenoiser()
    token = object()
    extra = {"cond_scale": 7.5, "token": token, "model_options": {"nested": [1]}}
    seen = []
    run(name, model, start(), SCHEDULE, extra_args=extra, callback=seen.append)
    assert model.calls and all(call == extra and call["token"] is token for call in model.calls)
    assert extra == {"cond_scale": 7.5, "token": token, "model_options": {"nested": [1]}}
    assert [d["i"] for d in seen] == list(range(len(SCHEDULE) - 1))
    for d in seen:
        assert set(d) == {"x", "i", "sigma", "sigma_hat", "denoised"}
        assert float(d["sigma"]) == float(SCHEDULE[d["i"]])
        assert d["denoised"].shape == d["x"].shape


@pytest.mark.parametrize("name", ALL)
def test_progress_bar_honours_disable(name, capsys):
    run(name, GaussianDenoiser(), start(), SCHEDULE, disable=True)
    assert capsys.readouterr().err == ""
    run(name, GaussianDenoiser(), start(), SCHEDULE, disable=False)
    assert f"{len(SCHEDULE) - 1}/{len(SCHEDULE) - 1}" in capsys.readouterr().err


@pytest.mark.parametrize("bad_call", [3, 4])
@pytest.mark.parametrize(
    "name, params, calls_per_step",
    [(name, {}, spec.nfe_per_step) for name, spec in SAMPLER_SPECS.items()] + [("split_baoab", {"reduced": False}, 2)],
)
def test_nan_from_the_model_names_the_step(name, params, calls_per_step, bad_call):
    """Whichever model call of a step fails (AMS's corrector or predictor, the naive splitting's
    second evaluation), the error names that step."""
    model = NaNAfter(GaussianDenoiser(), bad_call=bad_call)
    step = (bad_call - 1) // calls_per_step + 1
    with pytest.raises(ModelOutputError, match=rf"NaN or infinity at step {step} of 7 "):
        run(name, model, start(), SCHEDULE, **params)


@pytest.mark.parametrize("name", ALL)
def test_malformed_sigmas_are_rejected(name):
    model, x = GaussianDenoiser(), start()
    cases = {
        "non-increasing": torch.tensor([1.0, 2.0, 0.0]),
        "NaN": torch.tensor([2.0, float("nan"), 0.0]),
        "1-D": SCHEDULE.reshape(2, 4),
        ">= 0": torch.tensor([2.0, 1.0, -0.5]),
    }
    for message, sigmas in cases.items():
        with pytest.raises(ValueError, match=message):
            run(name, model, x, sigmas)
    with pytest.raises(ValueError, match=r"flow-matching sigmas must lie in \[0, 1\]"):
        run(name, model, x, SCHEDULE, model_family="flow")
    with pytest.raises(ValueError, match="model_family"):
        run(name, model, x, SCHEDULE, model_family="eps")


def bad_values(param) -> list:
    """Values just outside the parameter's declared range, and non-numbers."""
    if param.kind == "bool":
        return ["maybe", 2]
    if param.kind == "choice":
        return ["no-such-choice"]
    values = [float("nan"), float("inf")]
    if param.min is not None:
        values += [param.min - 1, param.min - param.step]
    if param.max is not None:
        values += [param.max + 1, param.max + param.step]
    if param.kind == "int":
        values.append(param.min + 0.5)
    return values


@pytest.mark.parametrize("name", ALL)
def test_every_parameter_rejects_out_of_range_values_with_its_range(name):
    spec = SAMPLER_SPECS[name]
    model, x = GaussianDenoiser(), start()
    for param in spec.params:
        for value in bad_values(param):
            with pytest.raises(ValueError, match=rf"{param.name}=.* expected .*{re.escape(param.range_text())}"):
                run(name, model, x, SCHEDULE, **{param.name: value})


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_inpainting_keeps_the_kept_region(name):
    """ComfyUI's KSamplerX0Inpaint (docs/hosts.md#comfyui) holds kept regions on the noised original
    latent; every consistent method must then land exactly on the original there."""
    inner = GaussianDenoiser(mean=0.2, var=0.5)
    latent = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    noise = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    mask = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    mask[..., :4] = 1.0  # 1 = regenerate, 0 = keep

    def masked(x, sigma, **kwargs):
        s = sigma.reshape(-1, 1, 1, 1)
        x = x * mask + (latent + s * noise) * (1 - mask)
        return inner(x, sigma) * mask + latent * (1 - mask)

    out = run(name, masked, latent + 14.6 * noise, SCHEDULE)
    assert ((out - latent) * (1 - mask)).abs().max() <= 1e-6
