"""Adaptive 3M (docs/adaptive.md): its reduction to Euler, exact step weights and stability limit.

Generic behaviour (schedules, batches, dtypes, callbacks, NaN guard, memory) is covered for every
registered sampler by the robustness and memory tests; its measured order is in test_convergence.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from adaptive_support import flow_sigmas, karras

from momentum_samplers.sampling import sample_adaptive_3m
from momentum_samplers.sampling.adaptive import exact_step_weights
from momentum_samplers.testbed.gmm import AnalyticDenoiser, image_mixture
from momentum_samplers.testbed.kdiffusion import load_k_diffusion_sampling
from momentum_samplers.testbed.reference import data_range, out_of_range_percent, reference_solution, rms_error


@pytest.fixture(scope="module")
def guided_mixture():
    mixture = image_mixture(shape=(1, 16, 16))
    x = torch.randn(32, 1, 16, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    return mixture, x, {"classes": torch.arange(32) % 10, "cond_scale": 7.5}


@pytest.mark.parametrize("family", ["ve", "flow"])
def test_order_1_is_euler(guided_mixture, family):
    """DDIM in data prediction and Euler in ε are the same step, for VE and flow latents."""
    mixture, noise, extra = guided_mixture
    sigmas = karras(10) if family == "ve" else flow_sigmas(10)
    x = noise * sigmas[0]
    ours = sample_adaptive_3m(AnalyticDenoiser(mixture, family), x, sigmas, extra_args=extra, disable=True,
                              order=1, model_family=family)
    euler = load_k_diffusion_sampling().sample_euler(AnalyticDenoiser(mixture, family), x, sigmas,
                                                     extra_args=extra, disable=True)
    assert (ours - euler).abs().max().item() < 1e-12


@pytest.mark.parametrize(("u", "u_next", "u_prev"), [(14.6, 7.9, 20.0), (0.44, 0.03, 1.2), (3.0, 2.9, 3.05)])
def test_step_weights_are_the_exact_integrals(u, u_next, u_prev):
    """c_1 and c_2 are the averages of the Newton basis (σ̃ − u) and (σ̃ − u)(σ̃ − u_prev) over the step
    against the weight 1/σ̃² (checked by Gauss–Legendre quadrature in log σ̃, exact to rounding here)."""
    nodes, weights = (torch.tensor(v, dtype=torch.float64) for v in np.polynomial.legendre.leggauss(40))
    lo, hi = math.log(u_next), math.log(u)
    s = 0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)
    measure = 0.5 * (hi - lo) * weights * torch.exp(-s)  # dσ̃/σ̃² = e^{−s} ds
    sig = torch.exp(s)
    total = measure.sum()
    weight, c1, c2 = exact_step_weights(u, u_next, u_prev)
    assert weight == pytest.approx(1.0 - u_next / u, rel=1e-14)
    assert c1 == pytest.approx(float((measure * (sig - u)).sum() / total), rel=1e-10, abs=1e-12)
    assert c2 == pytest.approx(float((measure * (sig - u) * (sig - u_prev)).sum() / total), rel=1e-10, abs=1e-12)


@pytest.fixture(scope="module")
def high_guidance():
    """Guidance 15 on the analytic model (d = 256, 64 samples), where high-order solvers burn; the
    exact result is the final denoise at σ = 0.03 of an RK4 solution, as the benchmark's."""
    mixture = image_mixture(shape=(1, 16, 16))
    model = AnalyticDenoiser(mixture)
    threshold = data_range(mixture.sample(20000, generator=torch.Generator().manual_seed(5)))
    x = torch.randn(64, 1, 16, 16, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 14.6
    extra = {"classes": torch.arange(64) % 10, "cond_scale": 15.0}
    end = reference_solution(model, x, 14.6, 0.03, steps=200, extra_args=extra)
    exact = model(end, torch.full((64,), 0.03, dtype=torch.float64), **extra)
    return model, x, extra, exact, threshold


def run(high_guidance, fn, steps: int, **params) -> tuple[float, float]:
    model, x, extra, exact, threshold = high_guidance
    out = fn(model, x, karras(steps), extra_args=extra, disable=True, **params)
    return rms_error(out, exact), out_of_range_percent(out, threshold)


@pytest.mark.parametrize("steps", [6, 8, 10, 12])
def test_the_limit_damps_the_overshoot(high_guidance, steps):
    """The limit trades a little of the third-order term for less saturation, and the sampler stays
    more accurate than Euler at the same model calls."""
    err, burn = run(high_guidance, sample_adaptive_3m, steps)
    _, burn_unlimited = run(high_guidance, sample_adaptive_3m, steps, limit=10.0)
    err_euler, _ = run(high_guidance, load_k_diffusion_sampling().sample_euler, steps)
    assert burn < burn_unlimited
    assert err < err_euler


@pytest.mark.parametrize("steps", [8, 10, 12])
def test_no_burn_at_guidance_15(high_guidance, steps):
    """Saturation within 1.5× the exact result's from 8 steps on (at 6 steps this data law still
    gives 2.3× the exact share; Euler gives 2.4×)."""
    *_, exact, threshold = high_guidance
    assert run(high_guidance, sample_adaptive_3m, steps)[1] <= 1.5 * out_of_range_percent(exact, threshold)


def test_the_limit_acts_per_image_and_each_image_is_as_alone(high_guidance):
    """At guidance 15 and 6 steps the limit changes some images and leaves others alone, and every image
    of the batch equals that image sampled alone (θ is computed per image)."""
    model, x, extra, *_ = high_guidance
    sigmas = karras(6)
    limited = sample_adaptive_3m(model, x, sigmas, extra_args=extra, disable=True)
    unlimited = sample_adaptive_3m(model, x, sigmas, extra_args=extra, disable=True, limit=10.0)
    changed = (limited - unlimited).flatten(1).abs().amax(1) > 1e-9
    assert 0 < int(changed.sum()) < len(changed)
    for b in [int(changed.nonzero()[0]), int((~changed).nonzero()[0]), 5, 63]:
        one = {"classes": extra["classes"][b:b + 1], "cond_scale": extra["cond_scale"]}
        alone = sample_adaptive_3m(model, x[b:b + 1], sigmas, extra_args=one, disable=True)
        assert (alone[0] - limited[b]).abs().max().item() < 1e-12


def test_a_near_repeated_sigma_does_not_amplify_rounding(high_guidance):
    """Two σ's 1e-5 apart with half-precision model output: the tiny step starts no divided difference,
    so the error stays within 1.5× the error without it (a difference over it multiplies the rounding
    by the ratio of the steps, 10⁴ here)."""
    model, x, extra, exact, _ = high_guidance

    def rounded(x, sigma, **kwargs):
        return model(x, sigma, **kwargs).half().double()

    sigmas = karras(10)
    near = torch.cat([sigmas[:5], sigmas[4:5] - 1e-5, sigmas[5:]])
    plain = rms_error(sample_adaptive_3m(rounded, x, sigmas, extra_args=extra, disable=True), exact)
    repeated = rms_error(sample_adaptive_3m(rounded, x, near, extra_args=extra, disable=True), exact)
    assert repeated <= 1.5 * plain
