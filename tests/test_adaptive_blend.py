"""Adaptive Blend (docs/adaptive.md#adaptive-blend): Euler at order 1 / check 0, its noise-form half is
GHVB exactly, the misses and the mix are what the docstrings say, and every image is mixed on its own.

Generic behaviour (schedules, dtypes, callbacks, NaN guard) is covered for every registered sampler by the
robustness tests, memory by test_memory, the measured order by test_convergence.
"""

from __future__ import annotations

import pytest
import torch
from adaptive_support import flow_sigmas, karras, start

from momentum_samplers.sampling import sample_adaptive_blend, sample_adaptive_order, sample_ghvb
from momentum_samplers.sampling.blend import NoiseFormCompanion
from momentum_samplers.testbed.gmm import AnalyticDenoiser, image_mixture
from momentum_samplers.testbed.kdiffusion import load_k_diffusion_sampling


@pytest.fixture(scope="module")
def mixture():
    return image_mixture(shape=(1, 16, 16))


@pytest.mark.parametrize("family", ["ve", "flow"])
@pytest.mark.parametrize("params", [{"check": 0.0}, {"order": 1}])
def test_check_0_and_order_1_are_euler(mixture, family, params):
    sigmas = karras(10) if family == "ve" else flow_sigmas(10)
    extra = {"classes": torch.arange(8) % 10, "cond_scale": 7.5}
    x = start(8) * sigmas[0]
    model = AnalyticDenoiser(mixture, family)
    ours = sample_adaptive_blend(model, x, sigmas, extra_args=extra, disable=True, model_family=family, **params)
    euler = load_k_diffusion_sampling().sample_euler(model, x, sigmas, extra_args=extra, disable=True)
    assert (ours - euler).abs().max().item() < 1e-12


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("beta", [0.4, 0.7, 1.0])
def test_the_noise_form_half_alone_is_ghvb(mixture, order, beta):
    """Euler plus the companion's whole correction (λ = 0, κ = 1) is GHVB of the same order and β: the
    ε's it reads back from the velocities and its weights are GHVB's."""
    sigmas = karras(12)
    extra = {"classes": torch.arange(8) % 10, "cond_scale": 5.0}
    model = AnalyticDenoiser(mixture, "ve")
    x = start(8) * sigmas[0]
    companion, one = NoiseFormCompanion(order, beta), torch.ones(())
    ours = x.clone()
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
        denoised = model(ours, sigmas[i] * ours.new_ones(len(ours)), **extra)
        if sigma_next == 0.0:
            ours = denoised
            break
        companion.observe(ours, denoised, sigma)
        ours = torch.lerp(ours, denoised, 1.0 - sigma_next / sigma)
        companion.correct(ours, sigma_next - sigma, 0.0, one)
    ghvb = sample_ghvb(model, x, sigmas, extra_args=extra, disable=True, order=order, beta=beta)
    assert (ours - ghvb).abs().max().item() < 1e-10


def test_the_noise_miss_is_the_second_difference_of_eps():
    """m_ε = σ_i·‖ε_i − 2ε_{i−1} + ε_{i−2}‖ per image, though only velocities are kept (ε read back)."""
    g = torch.Generator().manual_seed(0)
    companion = NoiseFormCompanion(3, 0.6)
    eps_seen = []
    for i, sigma in enumerate([9.0, 5.0, 3.0, 1.5, 0.7]):
        x, denoised = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64), torch.randn(3, 2, 4, 4, generator=g,
                                                                                          dtype=torch.float64)
        eps_seen.append((x - denoised) / sigma)
        companion.observe(x, denoised, sigma)
        if i < 2:
            assert companion.miss is None
            continue
        expected = sigma * (eps_seen[-1] - 2 * eps_seen[-2] + eps_seen[-3]).flatten(1).norm(dim=1)
        assert torch.allclose(companion.miss.flatten(), expected, rtol=1e-12)


def test_the_mix_goes_to_the_better_predictor():
    companion = NoiseFormCompanion(3, 0.7)
    assert companion.share(torch.ones(2, 1, 1, 1), torch.float64) == 0.5  # before three ε's
    companion.miss = torch.tensor([1.0, 1.0, 0.0, 2.0, 1e-3]).view(5, 1, 1, 1)
    lam = companion.share(torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0]).view(5, 1, 1, 1), torch.float64).flatten()
    assert lam[0] == 0.5 and lam[1] == 1.0 and lam[2] == 0.5  # equal misses, a perfect data line, 0/0
    assert lam[3] == pytest.approx(16 / 17) and lam[4] < 1e-11  # λ = m_ε⁴/(m_D⁴ + m_ε⁴)
    assert lam.dtype == torch.float64


class Kinked:
    """The analytic denoiser plus a term in D that is a smooth polynomial in σ for images whose mean is above
    zero and a kinked one (|σ − 3|) for the rest: the data form's line misses more on the kinked images."""

    def __init__(self, mixture) -> None:
        self.smooth = AnalyticDenoiser(mixture, "ve")

    def __call__(self, x, sigma, **kwargs):
        d = self.smooth(x, sigma, **kwargs)
        shape = (-1, *([1] * (x.ndim - 1)))
        kinked = torch.sigmoid(-20.0 * x.flatten(1).mean(1)).view(shape)
        s = sigma.view(shape)
        return d + 0.3 * kinked * (s - 3.0).abs() * torch.tanh(x) + 0.02 * (1 - kinked) * s * s * torch.tanh(x)


def test_every_image_is_mixed_on_its_own(mixture):
    """A batch of images that want different mixes gives every image what it gets sampled alone, and the mix is
    neither of the two families alone."""
    model = Kinked(mixture)
    extra = {"classes": torch.arange(12) % 10, "cond_scale": 3.0}
    sigmas = karras(10)
    x = start(12, seed=5) * sigmas[0]
    ours = sample_adaptive_blend(model, x, sigmas, extra_args=extra, disable=True)
    data_form = sample_adaptive_order(model, x, sigmas, extra_args=extra, disable=True)
    noise_form = sample_ghvb(model, x, sigmas, extra_args=extra, disable=True, order=3, beta=0.7)
    assert (ours - data_form).abs().max() > 1e-6 and (ours - noise_form).abs().max() > 1e-6
    for b in [0, 5, 11]:
        one = {"classes": extra["classes"][b:b + 1], "cond_scale": 3.0}
        alone = sample_adaptive_blend(model, x[b:b + 1], sigmas, extra_args=one, disable=True)
        assert (alone[0] - ours[b]).abs().max().item() < 1e-12

