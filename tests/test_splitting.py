"""Splitting integrators on the phase-space lift (docs/splitting.md): reductions to the real k-diffusion
and to ComfyUI's RF rule, the BAOAB invariant, distribution accuracy on the Gaussian-mixture model,
NFE, and the robustness rules."""

from __future__ import annotations

import math

import pytest
import torch
from stochastic_support import (
    ConstantDenoiser,
    analytic,
    euler_ancestral_rf,
    flow_schedule,
    karras,
    seeded_noise,
    within_mode_std,
)

from momentum_samplers.sampling import (
    SAMPLER_SPECS,
    sample_split_bao,
    sample_split_baoab,
    sample_split_oba,
    sample_split_obab,
    sample_splitting,
)
from momentum_samplers.sampling.common import sigma_ratio
from momentum_samplers.testbed.gmm import image_mixture, ring_mixture
from momentum_samplers.testbed.reference import sliced_wasserstein

SPLITTERS = {"BAOAB": sample_split_baoab, "OBAB": sample_split_obab, "OBA": sample_split_oba, "BAO": sample_split_bao}
TOL = 1e-12  # float64; measured max |Δ| ≤ 4e-15


@pytest.fixture(scope="module")
def guided():
    """Class-conditional analytic model at guidance 7.5 (extra_args carry the guidance)."""
    mixture = image_mixture(shape=(1, 4, 4), n_classes=3, seed=1)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64)
    extra = {"classes": torch.arange(6) % 3, "cond_scale": 7.5}
    return mixture, noise, extra


# --- reductions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(SPLITTERS))
@pytest.mark.parametrize("reduced", [True, False])
def test_no_momentum_no_noise_is_k_diffusion_euler_ve(kdiff, guided, scheme, reduced):
    mixture, noise, extra = guided
    sigmas = karras(kdiff, 10)
    ours_model, their_model = analytic(mixture), analytic(mixture)
    ours = SPLITTERS[scheme](ours_model, noise * 80, sigmas, extra_args=extra, disable=True, lam=0.0, reduced=reduced)
    theirs = kdiff.sample_euler(their_model, noise * 80, sigmas, extra_args=extra, disable=True)
    assert (ours - theirs).abs().max() < TOL
    assert ours_model.calls == their_model.calls == 10


@pytest.mark.parametrize("scheme", list(SPLITTERS))
def test_no_momentum_no_noise_is_euler_flow(kdiff, guided, scheme):
    mixture, noise, extra = guided
    sigmas = flow_schedule(10)
    ours = SPLITTERS[scheme](
        analytic(mixture, "flow"), noise, sigmas, extra_args=extra, disable=True, lam=0.0, model_family="flow"
    )
    theirs = kdiff.sample_euler(analytic(mixture, "flow"), noise, sigmas, extra_args=extra, disable=True)
    assert (ours - theirs).abs().max() < TOL


@pytest.mark.parametrize("scheme", list(SPLITTERS))
@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_position_noise_is_k_diffusion_euler_ancestral_ve(kdiff, guided, scheme, eta):
    mixture, noise, extra = guided
    sigmas = karras(kdiff, 10)
    x = noise * 80
    ours = SPLITTERS[scheme](
        analytic(mixture), x, sigmas, extra_args=extra, disable=True, lam=0.0, lambda_s=eta, noise_sampler=seeded_noise(x, 7)
    )
    theirs = kdiff.sample_euler_ancestral(
        analytic(mixture), x, sigmas, extra_args=extra, disable=True, eta=eta, noise_sampler=seeded_noise(x, 7)
    )
    assert (ours - theirs).abs().max() < TOL


@pytest.mark.parametrize("scheme", list(SPLITTERS))
@pytest.mark.parametrize("eta", [0.5, 1.0])
def test_position_noise_is_comfyui_rf_ancestral_flow(guided, scheme, eta):
    mixture, noise, extra = guided
    sigmas = flow_schedule(10)
    ours = SPLITTERS[scheme](
        analytic(mixture, "flow"), noise, sigmas, extra_args=extra, disable=True, lam=0.0, lambda_s=eta,
        noise_sampler=seeded_noise(noise, 7), model_family="flow",
    )
    theirs = euler_ancestral_rf(
        analytic(mixture, "flow"), noise, sigmas, extra_args=extra, eta=eta, noise_sampler=seeded_noise(noise, 7)
    )
    assert (ours - theirs).abs().max() < TOL


def test_s_noise_scales_position_noise_like_the_host(kdiff, guided):
    mixture, noise, extra = guided
    sigmas, x = karras(kdiff, 8), noise * 80
    ours = sample_split_baoab(
        analytic(mixture), x, sigmas, extra_args=extra, disable=True, lam=0.0, lambda_s=1.0, s_noise=1.3,
        noise_sampler=seeded_noise(x, 2),
    )
    theirs = kdiff.sample_euler_ancestral(
        analytic(mixture), x, sigmas, extra_args=extra, disable=True, s_noise=1.3, noise_sampler=seeded_noise(x, 2)
    )
    assert (ours - theirs).abs().max() < TOL


# --- the BAOAB invariant (docs/splitting.md#baoab-rescale) ---------------------------------------------


def _eps_variances(sampler, family, sigmas, n=2000, d=64, **kwargs):
    """Var((x_i − α_i·x0)/σ_i) at every step i ≥ 1 of a run with the constant denoiser D ≡ x0."""
    x0 = torch.full((1, d), 0.5, dtype=torch.float64)
    g = torch.Generator().manual_seed(11)
    s0 = float(sigmas[0])
    x = (1 - s0 if family == "flow" else 1.0) * x0 + s0 * torch.randn(n, d, generator=g, dtype=torch.float64)
    variances = []

    def record(info):
        s = float(info["sigma"])
        a = 1 - s if family == "flow" else 1.0
        variances.append(float(((info["x"] - a * x0) / s).var()))

    sampler(ConstantDenoiser(x0), x, sigmas, callback=record, disable=True, extra_args={"seed": 4}, model_family=family,
            **kwargs)
    return variances[1:]


def _deltas(sigmas, lam, family):
    s = [float(v) for v in sigmas]
    return [lam * (1 - sigma_ratio(a, b, family)) for a, b in zip(s[:-1], s[1:], strict=True) if b > 0]


def _geometric(ratio, n, start=80.0):
    return torch.tensor([start * ratio**k for k in range(n)] + [0.0], dtype=torch.float64)


@pytest.mark.parametrize("reduced", [True, False])
def test_baoab_keeps_unit_noise_variance_on_every_schedule_ve(kdiff, reduced):
    sigmas = karras(kdiff, 10)
    assert max(_deltas(sigmas, 1.9, "ve")) > 1.5  # large steps, where OBA/BAO are unstable
    variances = _eps_variances(sample_split_baoab, "ve", sigmas, lam=1.9, reduced=reduced)
    assert max(abs(v - 1) for v in variances) < 0.025, variances  # s.e. of one variance ≈ 0.004


def test_baoab_keeps_unit_noise_variance_flow():
    sigmas = flow_schedule(12)
    variances = _eps_variances(sample_split_baoab, "flow", sigmas, lam=1.9)
    assert max(abs(v - 1) for v in variances) < 0.025, variances


@pytest.mark.parametrize("delta", [0.4, 1.0, 1.5])
def test_baoab_keeps_unit_noise_variance_at_constant_delta(delta):
    ratio = 1 - delta / 1.9  # geometric schedule: constant r, constant δ = λ(1 − r)
    variances = _eps_variances(sample_split_baoab, "ve", _geometric(ratio, 25), lam=1.9)
    assert max(abs(v - 1) for v in variances) < 0.025, variances


@pytest.mark.parametrize("sampler", [sample_split_oba, sample_split_bao])
def test_oba_and_bao_lose_the_noise_variance(sampler):
    # stationary Var(ε̂) = 0.767 at δ = 0.4 (exact Lyapunov solve, γ = 2)
    variances = _eps_variances(sampler, "ve", _geometric(0.6, 30), lam=1.0)
    settled = sum(variances[-10:]) / 10
    assert abs(settled - 0.767) < 0.03, variances


def test_obab_over_disperses():
    # stationary Var(ε̂) = 1/(1 − δ²/4) = 4/3 at δ = 1
    variances = _eps_variances(sample_split_obab, "ve", _geometric(1 - 1 / 1.9, 30), lam=1.9)
    settled = sum(variances[-10:]) / 10
    assert abs(settled - 4 / 3) < 0.05, variances


# --- distribution accuracy on the Gaussian-mixture model ------------------------------------------------


@pytest.fixture(scope="module")
def ring16():
    mixture = ring_mixture(dim=16)
    g = torch.Generator().manual_seed(1)
    truth = mixture.sample(4000, generator=g)
    start = torch.randn(4000, 16, generator=g, dtype=torch.float64) * 80
    return mixture, truth, start


def test_baoab_samples_the_mixture_and_keeps_its_spread(kdiff, ring16):
    """d = 16, 20 NFE (Karras σ 80 → 0.002): sliced W1 to exact samples ≤ 0.03 (MC floor at n = 4000:
    0.017), and the within-mode spread at least as close to the truth as euler_ancestral's."""
    mixture, truth, start = ring16
    sigmas = karras(kdiff, 20)
    model = analytic(mixture)
    ours = sample_split_baoab(model, start, sigmas, disable=True, extra_args={"seed": 3})
    theirs = kdiff.sample_euler_ancestral(analytic(mixture), start, sigmas, disable=True, noise_sampler=seeded_noise(start, 3))
    true_std = within_mode_std(truth, mixture)
    ours_err = abs(within_mode_std(ours, mixture) / true_std - 1)
    theirs_err = abs(within_mode_std(theirs, mixture) / true_std - 1)
    assert model.calls == 20
    assert sliced_wasserstein(ours, truth, p=1) < 0.03
    assert ours_err <= theirs_err
    assert ours_err < 0.25


# --- NFE -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", list(SPLITTERS))
def test_nfe_per_step(kdiff, guided, scheme):
    mixture, noise, extra = guided
    sigmas = karras(kdiff, 12)
    reduced, naive = analytic(mixture), analytic(mixture)
    SPLITTERS[scheme](reduced, noise * 80, sigmas, extra_args=extra, disable=True)
    SPLITTERS[scheme](naive, noise * 80, sigmas, extra_args=extra, disable=True, reduced=False)
    assert reduced.calls == 12  # 1 per step, as the registry tells the hosts
    assert reduced.calls == SAMPLER_SPECS[f"split_{scheme.lower()}"].nfe_per_step * 12
    assert naive.calls == 2 * 12 - 1  # 2 per step; the last step (to σ = 0) is the host's plain denoise


# --- robustness ---------------------------------------------------------------------------------------


def test_an_unknown_scheme_names_the_schemes(guided):
    mixture, noise, _ = guided
    with pytest.raises(ValueError) as err:
        sample_splitting(analytic(mixture), noise, torch.tensor([1.0, 0.0]), disable=True, scheme="ABO")
    assert str(err.value) == "scheme='ABO' is out of range: expected one of BAOAB, OBAB, OBA, BAO"


def test_bad_sigmas_and_family_are_errors(guided):
    mixture, noise, _ = guided
    with pytest.raises(ValueError, match="non-increasing"):
        sample_split_baoab(analytic(mixture), noise, torch.tensor([1.0, 2.0, 0.0]), disable=True)
    with pytest.raises(ValueError, match=r"flow-matching sigmas must lie in \[0, 1\]"):
        sample_split_baoab(analytic(mixture, "flow"), noise, torch.tensor([2.0, 0.0]), disable=True, model_family="flow")
    with pytest.raises(ValueError, match="model_family"):
        sample_split_baoab(analytic(mixture), noise, torch.tensor([1.0, 0.0]), disable=True, model_family="vp")


@pytest.mark.parametrize("family", ["ve", "flow"])
def test_schedule_edge_cases(guided, family):
    mixture, noise, extra = guided
    model = analytic(mixture, family)
    x = noise.clone()
    for sigmas in ([], [0.7]):  # nothing to do
        out = sample_split_baoab(
            model, x, torch.tensor(sigmas, dtype=torch.float64), extra_args=extra, disable=True, model_family=family
        )
        assert torch.equal(out, x)
    assert model.calls == 0
    # partial run ending above 0, repeated levels, a low first sigma: finite, one callback per step
    for sigmas in ([0.9, 0.5, 0.5, 0.2], [0.9, 0.9, 0.6, 0.3, 0.0, 0.0], [0.01, 0.005, 0.0]):
        seen = []
        out = sample_split_baoab(
            model, x * sigmas[0], torch.tensor(sigmas, dtype=torch.float64), extra_args=extra, disable=True,
            callback=lambda info, seen=seen: seen.append(info["i"]), model_family=family,
        )
        assert torch.isfinite(out).all()
        assert seen == list(range(len(sigmas) - 1))


def test_a_repeated_level_moves_nothing_without_position_noise(guided):
    mixture, noise, _ = guided
    x = noise * 0.5
    out = sample_split_baoab(analytic(mixture), x, torch.tensor([0.5, 0.5], dtype=torch.float64), disable=True)
    assert (out - x).abs().max() < 1e-14


@pytest.mark.parametrize("shape", [(3, 16), (2, 1, 4, 4), (2, 1, 2, 2, 4)])
def test_any_latent_rank_dtype_and_extra_args(shape):
    mixture = image_mixture(shape=(1, 4, 4), n_classes=3, seed=1)
    inner = analytic(mixture)
    seen = []

    def model(x, sigma, **kwargs):
        seen.append(kwargs)
        guidance = {"classes": kwargs["classes"], "cond_scale": kwargs["cond_scale"]}
        return inner(x.reshape(x.shape[0], 1, 4, 4), sigma, **guidance).reshape(x.shape)

    g = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=g).float() * 10
    extra = {"classes": torch.arange(shape[0]) % 3, "cond_scale": 2.0, "seed": 1, "model_options": {"k": 1}}
    out = sample_split_baoab(model, x, torch.linspace(10, 0, 5), extra_args=extra, disable=True, model_family="ve")
    assert out.dtype == torch.float32 and out.shape == x.shape and out.device == x.device
    assert all(kw is not None and kw["model_options"] is extra["model_options"] and kw["seed"] == 1 for kw in seen)
    assert math.isfinite(float(out.sum()))


def test_momentum_noise_is_independent_of_the_host_noise_sampler(guided):
    """The host's noise sampler feeds the position noise only, once per step exactly as the host's
    euler_ancestral calls it; the momentum has its own stream."""
    mixture, noise, _ = guided
    calls = []

    def host_noise(sigma, sigma_next):
        calls.append((float(sigma), float(sigma_next)))
        return torch.zeros_like(noise)

    sigmas = torch.linspace(10, 0, 6, dtype=torch.float64)
    sample_split_baoab(analytic(mixture), noise * 10, sigmas, disable=True, noise_sampler=host_noise)
    assert calls == []  # lambda_s = 0: no position noise
    sample_split_baoab(analytic(mixture), noise * 10, sigmas, disable=True, lambda_s=0.5, noise_sampler=host_noise)
    assert calls == [(10.0, 8.0), (8.0, 6.0), (6.0, 4.0), (4.0, 2.0)]
