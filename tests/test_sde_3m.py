"""SDE 3M (sampling/sde_multistep.py): reductions to Euler and Euler ancestral, the exact step
weights, the stationary law on Gaussian data, batch independence, VE and flow (docs/splitting.md#sde-3m)."""

from __future__ import annotations

import math

import pytest
import torch
from stochastic_support import ConstantDenoiser, analytic, flow_schedule, karras, seeded_noise

from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.sampling.sde_multistep import final_value, sample_sde_3m, sde_step_weights
from momentum_samplers.testbed.gmm import GaussianMixture, image_mixture


@pytest.fixture(scope="module")
def mixture():
    return image_mixture(shape=(1, 4, 4))


def _x(n: int, shape, sigma0: float, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * sigma0


def test_registered_with_its_table():
    spec = SAMPLER_SPECS["sde_3m"]
    assert spec.stochastic and spec.fn is sample_sde_3m
    assert spec.defaults() == {"eta": 1.0, "eta_low": 0.05, "order": 3, "s_noise": 1.0}


@pytest.mark.parametrize("eta", [1.0, 0.0])
def test_order_1_is_euler_ancestral_or_euler_on_ve(kdiff, mixture, eta):
    sigmas = karras(kdiff, 12)
    x = _x(6, mixture.shape, 80.0)
    classes = torch.arange(6) % mixture.n_classes
    extra = {"classes": classes, "cond_scale": 3.0}
    ours = sample_sde_3m(analytic(mixture), x, sigmas, extra, disable=True, eta=eta, eta_low=eta,
                         order=1, noise_sampler=seeded_noise(x, 5))
    if eta == 1.0:
        ref = kdiff.sample_euler_ancestral(analytic(mixture), x, sigmas, extra, disable=True, noise_sampler=seeded_noise(x, 5))
    else:
        ref = kdiff.sample_euler(analytic(mixture), x, sigmas, extra, disable=True)
    assert (ours - ref).abs().max() < 1e-12


def test_order_1_eta_0_is_euler_on_flow(kdiff, mixture):
    sigmas = flow_schedule(10)
    x = _x(4, mixture.shape, 1.0)
    ours = sample_sde_3m(analytic(mixture, "flow"), x, sigmas, disable=True, eta=0.0, eta_low=0.0, order=1,
                         model_family="flow")
    ref = kdiff.sample_euler(analytic(mixture, "flow"), x, sigmas, disable=True)
    assert (ours - ref).abs().max() < 1e-12


def test_order_1_on_flow_is_the_exponential_sde_step(mixture):
    """Flow latents: one step is x' = (σ'/σ)·e^{−ηh}·x + α'·(1 − e^{−(1+η)h})·D + σ'·√(1 − e^{−2ηh})·ξ,
    h = λ' − λ, λ = log(α/σ) (DPM-Solver++(1) SDE, as ComfyUI writes it for flow)."""
    eta = 0.6
    sigmas = torch.tensor([0.9, 0.7, 0.5, 0.4, 0.2], dtype=torch.float64)  # σ̃ from 9 to 0.25: both rates
    x = _x(3, mixture.shape, 0.9, seed=2)
    noise = seeded_noise(x, 9)
    ours = sample_sde_3m(analytic(mixture, "flow"), x, sigmas, disable=True, eta=eta, eta_low=0.3, order=1,
                         model_family="flow", noise_sampler=seeded_noise(x, 9))
    model = analytic(mixture, "flow")
    ref = x.clone()
    for s, s_next in zip(sigmas[:-1].tolist(), sigmas[1:].tolist(), strict=True):
        d = model(ref, torch.full([3], s, dtype=torch.float64))
        h = math.log((1 - s_next) / s_next) - math.log((1 - s) / s)
        eta = 0.6 if s / (1 - s) >= 1 else 0.3
        ref = (s_next / s) * math.exp(-eta * h) * ref + (1 - s_next) * -math.expm1(-(1 + eta) * h) * d \
            + s_next * math.sqrt(-math.expm1(-2 * eta * h)) * noise(s, s_next)
    assert (ours - ref).abs().max() < 1e-12


@pytest.mark.parametrize("eta", [0.0, 0.1, 1.0])
def test_step_weights_integrate_polynomials_in_sigma_exactly(eta):
    """Σ_j w_j·P(σ̃_j) = (1 + η)∫_0^h e^{−(1+η)(h−t)}·P(s·e^{−t}) dt for P of degree < the node count,
    against a fine midpoint rule."""
    s, s_next, nodes = 0.8, 0.3, [0.8, 1.5, 2.9]
    h = math.log(s / s_next)
    for poly in (lambda v: 1.0, lambda v: 2.0 - v, lambda v: v * v - 3.0 * v + 0.5):
        w = sde_step_weights(s, s_next, nodes, eta)
        m = 200000
        dt = h / m
        ref = sum((1 + eta) * math.exp(-(1 + eta) * (h - (k + 0.5) * dt)) * poly(s * math.exp(-(k + 0.5) * dt))
                  for k in range(m)) * dt
        assert abs(sum(wj * poly(v) for wj, v in zip(w, nodes, strict=True)) - ref) < 1e-9


def test_final_value_is_the_extrapolation_to_zero():
    values = [torch.tensor([2.0 - 0.25], dtype=torch.float64), torch.tensor([2.0 - 1.0], dtype=torch.float64)]  # P = 2 − σ̃² at σ̃ = 0.5 and 1
    assert float(final_value(list(zip([0.5, 1.0], values, strict=True)))) == pytest.approx(2.0, abs=1e-12)


@pytest.mark.parametrize("family", ["ve", "flow"])
@pytest.mark.parametrize("eta_low", [0.05, 1.0])
def test_stationary_law_on_gaussian_data(kdiff, family, eta_low):
    """Exact Gaussian data N(μ, v): at many steps (400, down to σ ≈ 0.002–0.008) the samples' mean and
    variance match the truth (at 100 steps the small-variance coordinate is still 7–13 % over on flow)."""
    d, n = 4, 20000
    mu = torch.tensor([[0.5, -1.0, 0.0, 2.0]], dtype=torch.float64)
    var = torch.tensor([[0.25, 1.0, 0.04, 2.0]], dtype=torch.float64)
    gauss = GaussianMixture(torch.ones(1, dtype=torch.float64), mu, var, torch.zeros(1, dtype=torch.long), (d,))
    if family == "ve":
        sigmas, x = karras(kdiff, 400, 0.002, 80.0), _x(n, (d,), 80.0, seed=3)
    else:
        sigmas, x = flow_schedule(400), _x(n, (d,), 1.0, seed=3)
    out = sample_sde_3m(analytic(gauss, family), x, sigmas, {"seed": 11}, disable=True, eta_low=eta_low,
                        model_family=family)
    assert (out.mean(0) - mu[0]).abs().max() < 0.04
    assert ((out.var(0) / var[0]) - 1.0).abs().max() < 0.035  # sampling error of a variance: 1 %


def test_point_mass_gives_the_point(kdiff):
    """A constant denoiser: every step keeps D, so the result is the data point."""
    x0 = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    x = _x(5, (3,), 80.0)
    out = sample_sde_3m(ConstantDenoiser(x0), x, karras(kdiff, 8), {"seed": 1}, disable=True, eta_low=1.0)
    assert (out - x0).abs().max() < 1e-12


@pytest.mark.parametrize("family", ["ve", "flow"])
def test_batch_items_are_independent(kdiff, mixture, family):
    """Per-image noise streams: an image comes out the same alone or in a batch."""
    sigmas = karras(kdiff, 10) if family == "ve" else flow_schedule(10)
    x = _x(3, mixture.shape, float(sigmas[0]), seed=4)
    classes = torch.arange(3)
    gens = [torch.Generator().manual_seed(20 + k) for k in range(3)]

    def batch_noise(sigma, sigma_next):
        return torch.stack([torch.randn(mixture.shape, generator=g, dtype=torch.float64) for g in gens])

    out = sample_sde_3m(analytic(mixture, family), x, sigmas, {"classes": classes, "cond_scale": 4.0}, disable=True,
                        eta=0.5, noise_sampler=batch_noise, model_family=family)
    g1 = torch.Generator().manual_seed(21)
    one = sample_sde_3m(analytic(mixture, family), x[1:2], sigmas, {"classes": classes[1:2], "cond_scale": 4.0},
                        disable=True, eta=0.5, model_family=family,
                        noise_sampler=lambda s, t: torch.randn(mixture.shape, generator=g1, dtype=torch.float64)[None])
    assert (out[1:2] - one).abs().max() < 1e-12


def test_eta_0_is_deterministic_and_s_noise_0_too(kdiff, mixture):
    sigmas = karras(kdiff, 10)
    x = _x(4, mixture.shape, 80.0)
    a = sample_sde_3m(analytic(mixture), x, sigmas, {"seed": 1}, disable=True, eta=0.0, eta_low=0.0)
    b = sample_sde_3m(analytic(mixture), x, sigmas, {"seed": 2}, disable=True, eta=0.0, eta_low=0.0)
    c = sample_sde_3m(analytic(mixture), x, sigmas, {"seed": 1}, disable=True, eta=0.5, s_noise=0.0)
    d = sample_sde_3m(analytic(mixture), x, sigmas, {"seed": 1}, disable=True, eta=0.5)
    assert torch.equal(a, b)
    assert (c - d).abs().max() > 1e-3  # the noise does act


def test_guidance_7_5_at_10_steps_stays_in_range(kdiff, mixture):
    """No blow-up at high CFG and few steps (the stock SDE multistep samplers blow up there)."""
    sigmas = karras(kdiff, 10, 0.03, 14.6)
    x = _x(64, mixture.shape, 14.6)
    out = sample_sde_3m(analytic(mixture), x, sigmas, {"seed": 1, "classes": torch.arange(64) % 10, "cond_scale": 7.5},
                        disable=True)
    assert out.abs().max() < 10 * mixture.means.abs().max()


def _bench_rows() -> list[dict]:
    # two cells: two samplers tie at the resolution in the first, "b" is alone closest in the second
    cells = {("karras", 10): {"a": 0.001, "b": 0.001, "c": 0.004}, ("karras", 20): {"a": 0.003, "b": 0.001, "c": 0.002}}
    return [{"guidance": 1.0, "schedule": s, "family": "ve", "nfe": n, "sampler": name, "excess": e, "spread": 1.0}
            for (s, n), cell in cells.items() for name, e in cell.items()]


def test_the_stochastic_ranking_credits_every_tie_and_orders_by_geometric_mean():
    from momentum_samplers.testbed.bench_stochastic import ranking

    ranked = ranking(_bench_rows(), 1.0)
    assert [r["sampler"] for r in ranked] == ["b", "a", "c"]  # geometric means 1, √3, √8
    by_name = {r["sampler"]: r for r in ranked}
    assert by_name["a"]["first_in"] == 1 and by_name["b"]["first_in"] == 2 and by_name["c"]["first_in"] == 0
    assert by_name["a"]["geo"] == pytest.approx(math.sqrt(3.0))
    assert by_name["c"]["worst"] == pytest.approx(4.0)


def test_the_losses_name_the_closer_sampler_and_both_distances():
    from momentum_samplers.testbed.bench_stochastic import losses

    text = losses("a", 1.0, _bench_rows())
    assert "at 20 calls, b 0.001 against 0.003" in text and "at 10 calls" not in text
    assert "every cell" in losses("b", 1.0, _bench_rows())
