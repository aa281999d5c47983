"""Shared pieces of the stochastic-sampler tests: the analytic model, seeded noise, schedules, the flow
(RF) ancestral reference, and distribution metrics."""

from __future__ import annotations

import math

import torch

from momentum_samplers.testbed.gmm import AnalyticDenoiser, GaussianMixture


def analytic(mixture: GaussianMixture, family: str = "ve") -> AnalyticDenoiser:
    """The mixture's exact denoiser (it counts its calls in ``.calls`` and ignores the hosts' ``seed``)."""
    return AnalyticDenoiser(mixture, family)


class ConstantDenoiser:
    """D ≡ x0: the denoiser of a point-mass data set (docs/splitting.md#baoab-rescale)."""

    def __init__(self, x0: torch.Tensor) -> None:
        self.x0, self.calls = x0, 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        self.calls += 1
        return self.x0.expand_as(x)


def seeded_noise(x: torch.Tensor, seed: int):
    """A fresh standard-normal noise sampler; two calls with one seed give identical streams."""
    g = torch.Generator().manual_seed(seed)
    return lambda sigma, sigma_next: torch.randn(x.shape, dtype=x.dtype, generator=g)


def flow_schedule(n: int, shift: float = 3.0) -> torch.Tensor:
    """SD3/Flux-style shifted linear schedule from σ = 1 to 0, n steps."""
    t = torch.linspace(1.0, 0.0, n + 1, dtype=torch.float64)
    return shift * t / (1.0 + (shift - 1.0) * t)


def karras(kdiff, n: int, sigma_min: float = 0.002, sigma_max: float = 80.0) -> torch.Tensor:
    return kdiff.get_sigmas_karras(n, sigma_min, sigma_max, rho=7.0).double()


@torch.no_grad()
def euler_ancestral_rf(model, x, sigmas, extra_args=None, eta=1.0, s_noise=1.0, noise_sampler=None):
    """ComfyUI's ``sample_euler_ancestral_RF`` (docs/noise.md#flow-re-noising): step to
    σ_down = σ_{i+1}·(1 + (σ_{i+1}/σ_i − 1)·η) along the ODE, then rescale the signal by
    α_{i+1}/α_down and top the noise up to σ_{i+1}; noise is drawn only when η > 0."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = model(x, sigma * s_in, **extra_args)
        if sigma_next == 0:
            x = denoised
            continue
        sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)
        alpha_next, alpha_down = 1 - sigma_next, 1 - sigma_down
        renoise = (sigma_next**2 - sigma_down**2 * alpha_next**2 / alpha_down**2) ** 0.5
        ratio = sigma_down / sigma
        x = ratio * x + (1 - ratio) * denoised
        if eta > 0:
            x = (alpha_next / alpha_down) * x + noise_sampler(sigma, sigma_next) * s_noise * renoise
    return x


def within_mode_std(samples: torch.Tensor, mixture: GaussianMixture) -> float:
    """RMS distance to the nearest mode mean per coordinate (the spread of each mode)."""
    flat = samples.reshape(samples.shape[0], -1).double()
    nearest = torch.cdist(flat, mixture.means).argmin(dim=1)
    return math.sqrt(float((flat - mixture.means[nearest]).pow(2).mean()))
