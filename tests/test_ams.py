"""AMS-PC with scale-free momentum (docs/ams.md): reductions to the real k-diffusion and the RF rule,
β ≡ 0 against an independent Song Langevin-PC, the fixed-level variance, mixture accuracy, NFE and the
robustness rules."""

from __future__ import annotations

import math

import pytest
import torch
from stochastic_support import analytic, euler_ancestral_rf, flow_schedule, karras, seeded_noise, within_mode_std

from momentum_samplers.sampling import SAMPLER_SPECS, ams, sample_ams
from momentum_samplers.sampling.noise import ancestral_keep
from momentum_samplers.testbed.gmm import GaussianMixture, image_mixture, ring_mixture
from momentum_samplers.testbed.reference import sliced_wasserstein

TOL = 1e-12


@pytest.fixture(scope="module")
def guided():
    mixture = image_mixture(shape=(1, 4, 4), n_classes=3, seed=1)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64)
    return mixture, noise, {"classes": torch.arange(6) % 3, "cond_scale": 7.5}


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_no_corrector_is_k_diffusion_euler_ancestral(kdiff, guided, eta):
    mixture, noise, extra = guided
    sigmas, x = karras(kdiff, 10), noise * 80
    ours_model, their_model = analytic(mixture), analytic(mixture)
    ours = sample_ams(ours_model, x, sigmas, extra_args=extra, disable=True, snr=0.0, eta=eta, noise_sampler=seeded_noise(x, 5))
    theirs = kdiff.sample_euler_ancestral(
        their_model, x, sigmas, extra_args=extra, disable=True, eta=eta, noise_sampler=seeded_noise(x, 5)
    )
    assert (ours - theirs).abs().max() < TOL
    assert ours_model.calls == their_model.calls == 10


def test_no_corrector_no_noise_is_k_diffusion_euler(kdiff, guided):
    mixture, noise, extra = guided
    sigmas = karras(kdiff, 10)
    ours = sample_ams(analytic(mixture), noise * 80, sigmas, extra_args=extra, disable=True, snr=0.0, eta=0.0)
    theirs = kdiff.sample_euler(analytic(mixture), noise * 80, sigmas, extra_args=extra, disable=True)
    assert (ours - theirs).abs().max() < TOL


@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_no_corrector_is_comfyui_rf_ancestral_flow(guided, eta):
    mixture, noise, extra = guided
    sigmas = flow_schedule(10)
    ours = sample_ams(
        analytic(mixture, "flow"), noise, sigmas, extra_args=extra, disable=True, snr=0.0, eta=eta,
        noise_sampler=seeded_noise(noise, 5), model_family="flow",
    )
    theirs = euler_ancestral_rf(
        analytic(mixture, "flow"), noise, sigmas, extra_args=extra, eta=eta, noise_sampler=seeded_noise(noise, 5)
    )
    assert (ours - theirs).abs().max() < TOL


def _langevin_pc(model, x, sigmas, snr, corrector_noise, predictor_noise):
    """Song et al.'s PC sampler written independently: one Langevin corrector step with the snr
    rule (per-sample norms) at each level, then the ancestral (η = 1) VE predictor; last step x = D."""
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
        score = (model(x, sigma * s_in) - x) / sigma**2
        z = corrector_noise(sigma, sigma_next)
        ratio = z.flatten(1).norm(dim=1) / score.flatten(1).norm(dim=1)
        step = (2 * (snr * ratio) ** 2).view(-1, 1)  # Song's rule, in x units
        x = x + step * score + (2 * step).sqrt() * z
        denoised = model(x, sigma * s_in)
        if sigma_next == 0:
            return denoised
        sigma_up = sigma_next * math.sqrt(1 - ancestral_keep(sigma, sigma_next, 1.0, "ve") ** 2)
        sigma_down = math.sqrt(sigma_next**2 - sigma_up**2)
        x = denoised + sigma_down * (x - denoised) / sigma + sigma_up * predictor_noise(sigma, sigma_next)
    return x


def test_without_momentum_it_is_song_langevin_pc(kdiff, monkeypatch):
    """β clipped to 0 (adaptive momentum off) leaves Song's predictor-corrector sampler (docs/ams.md#reductions);
    Song's rule has no cap on the step, so ours (``MAX_STEP``, a guard for ‖G‖ ≈ 0) is lifted too."""
    monkeypatch.setattr(ams, "BETA_MAX", 0.0)
    monkeypatch.setattr(ams, "MAX_STEP", math.inf)
    mixture = ring_mixture(dim=16)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(64, 16, generator=g, dtype=torch.float64) * 80
    sigmas = karras(kdiff, 8)
    ours = sample_ams(
        analytic(mixture), x, sigmas, disable=True, snr=0.16, noise_sampler=seeded_noise(x, 1),
        momentum_noise_sampler=seeded_noise(x, 2),
    )
    theirs = _langevin_pc(analytic(mixture), x, sigmas, 0.16, seeded_noise(x, 2), seeded_noise(x, 1))
    assert (ours - theirs).abs().max() < 1e-10


def _fixed_level_variance(snr, variance_preserving, d=64, n=400, sigma=1.0, iterations=200):
    """Var(x)/(1 + σ²) after many AMS corrector steps at one level on N(0, I) data (docs/ams.md#measured)."""
    ones = torch.ones(1, d, dtype=torch.float64)
    gaussian = GaussianMixture(torch.ones(1, dtype=torch.float64), 0 * ones, ones, torch.zeros(1, dtype=torch.long), (d,))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * math.sqrt(1 + sigma**2)
    sigmas = torch.full((iterations + 1,), sigma, dtype=torch.float64)  # a repeated level: only correctors move x
    out = sample_ams(
        analytic(gaussian), x, sigmas, disable=True, snr=snr, variance_preserving=variance_preserving, extra_args={"seed": 1}
    )
    return float(out.var()) / (1 + sigma**2)


def test_variance_preserving_noise_keeps_langevins_variance_and_the_papers_sharpens():
    # d = 64, snr 0.05: plain Langevin 1.066, AMS with noise·(1+β) 1.065, paper's AMS 0.518
    preserving = _fixed_level_variance(0.05, True)
    faithful = _fixed_level_variance(0.05, False)
    assert abs(preserving - 1.066) < 0.04
    assert abs(faithful - 0.518) < 0.05


def test_ams_samples_the_mixture(kdiff):
    """d = 16, 20 NFE (10 PC steps, Karras σ 80 → 0.002): sliced W1 to exact samples ≤ 0.03 (MC floor
    0.017 at n = 4000), and a within-mode spread no narrower than euler_ancestral's at equal NFE."""
    mixture = ring_mixture(dim=16)
    g = torch.Generator().manual_seed(1)
    truth = mixture.sample(4000, generator=g)
    start = torch.randn(4000, 16, generator=g, dtype=torch.float64) * 80
    model = analytic(mixture)
    ours = sample_ams(model, start, karras(kdiff, 10), disable=True, extra_args={"seed": 3})
    theirs = kdiff.sample_euler_ancestral(
        analytic(mixture), start, karras(kdiff, 20), disable=True, noise_sampler=seeded_noise(start, 3)
    )
    true_std = within_mode_std(truth, mixture)
    assert model.calls == 20
    assert sliced_wasserstein(ours, truth, p=1) < 0.03
    assert abs(within_mode_std(ours, mixture) / true_std - 1) <= abs(within_mode_std(theirs, mixture) / true_std - 1) + 0.02


@pytest.mark.parametrize(
    "family, kwargs, calls",
    [("ve", {}, 20), ("ve", {"snr": 0.0}, 10), ("flow", {}, 19), ("flow", {"snr": 0.0}, 10)],
)
def test_nfe_per_step(guided, family, kwargs, calls):
    """2 per step; 1 without corrector; the flow step from σ = 1 (pure noise) has no corrector."""
    mixture, noise, extra = guided
    sigmas = flow_schedule(10) if family == "flow" else torch.linspace(10, 0, 11, dtype=torch.float64)
    model = analytic(mixture, family)
    sample_ams(model, noise, sigmas, extra_args=extra, disable=True, model_family=family, **kwargs)
    assert model.calls == calls
    if family == "ve" and not kwargs:  # at its defaults, what the registry tells the hosts
        assert model.calls == SAMPLER_SPECS["ams"].nfe_per_step * (len(sigmas) - 1)


@pytest.mark.parametrize("family", ["ve", "flow"])
def test_schedule_edge_cases_rank_and_dtype(guided, family):
    mixture, noise, extra = guided
    model = analytic(mixture, family)
    x = noise.float()
    for sigmas in ([], [0.7]):
        assert torch.equal(
            sample_ams(model, x, torch.tensor(sigmas), extra_args=extra, disable=True, model_family=family), x
        )
    assert model.calls == 0
    for sigmas in ([0.9, 0.5, 0.5, 0.2], [1.0, 1.0, 0.6, 0.3, 0.0, 0.0], [0.01, 0.005, 0.0]):
        seen = []
        out = sample_ams(
            model, x * sigmas[0], torch.tensor(sigmas), extra_args=dict(extra, seed=2), disable=True,
            callback=lambda info, seen=seen: seen.append(info["i"]), model_family=family,
        )
        assert out.dtype == torch.float32 and torch.isfinite(out).all()
        assert seen == list(range(len(sigmas) - 1))
    flat = torch.randn(3, 2, 2, 2, 2, dtype=torch.float64)  # a 5-D (video-like) latent
    out = sample_ams(lambda x, s, **kw: 0.5 * x, flat, torch.linspace(2, 0, 4, dtype=torch.float64), disable=True)
    assert out.shape == flat.shape
