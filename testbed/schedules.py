"""Host-free copies of the model samplings and schedules that the all-round benchmark uses, equal to
ComfyUI's (``comfy.model_sampling``, ``comfy.samplers``) where those are present (tests/test_schedules.py
compares them).

- :class:`DiscreteVE`: an SD1.5-like discrete ε-model, linear betas 0.00085–0.012 over 1000 steps:
  the σ table, σ(t) by log-linear interpolation, t(σ) by nearest table entry, float32 like the host.
- :class:`DiscreteFlow`: a discrete flow model, σ(t) = shift·τ/(1 + (shift − 1)·τ), τ = t/1000.
- :func:`normal_schedule`, :func:`simple_schedule`: ComfyUI's "normal" and "simple" schedulers;
  :func:`karras_schedule`: k-diffusion's Karras schedule (ρ = 7).
- :func:`noise_scaling`: how a sampler's first latent is made from unit noise and an empty latent
  (VE: σ·n, or √(1 + σ²)·n when σ reaches the model's σ_max, as ComfyUI's KSampler does; flow: σ·n).
"""

from __future__ import annotations

import math

import torch


class DiscreteVE:
    """SD1.5-like discrete model sampling (ε-prediction; samplers see VE latents)."""

    family = "ve"

    def __init__(self, linear_start: float = 0.00085, linear_end: float = 0.012, timesteps: int = 1000) -> None:
        betas = torch.linspace(linear_start**0.5, linear_end**0.5, timesteps, dtype=torch.float64) ** 2
        alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        sigmas = ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5
        self.sigmas = sigmas.float()
        self.log_sigmas = sigmas.log().float()

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        dists = sigma.log() - self.log_sigmas[:, None]
        return dists.abs().argmin(dim=0).view(sigma.shape)

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        t = torch.clamp(timestep.float(), min=0, max=len(self.sigmas) - 1)
        low, high, w = t.floor().long(), t.ceil().long(), t.frac()
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()


class DiscreteFlow:
    """Discrete flow-matching model sampling (latents x = (1 − σ)·x0 + σ·n), shift 3 by default."""

    family = "flow"

    def __init__(self, shift: float = 3.0, multiplier: float = 1000, timesteps: int = 1000) -> None:
        self.shift = shift
        self.multiplier = multiplier
        self.sigmas = self.sigma((torch.arange(1, timesteps + 1, 1) / timesteps) * multiplier)

    @property
    def sigma_min(self) -> torch.Tensor:
        return self.sigmas[0]

    @property
    def sigma_max(self) -> torch.Tensor:
        return self.sigmas[-1]

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return sigma * self.multiplier

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        t = timestep / self.multiplier
        return t if self.shift == 1.0 else self.shift * t / (1 + (self.shift - 1) * t)


def normal_schedule(model_sampling, steps: int) -> torch.Tensor:
    """ComfyUI's "normal": timesteps evenly spaced from t(σ_max) to t(σ_min), then 0."""
    s = model_sampling
    start, end = s.timestep(s.sigma_max), s.timestep(s.sigma_min)
    append_zero = True
    if math.isclose(float(s.sigma(end)), 0, abs_tol=0.00001):
        steps += 1
        append_zero = False
    timesteps = torch.linspace(start, end, steps)
    sigs = [float(s.sigma(ts)) for ts in timesteps]
    if append_zero:
        sigs += [0.0]
    return torch.FloatTensor(sigs)


def simple_schedule(model_sampling, steps: int) -> torch.Tensor:
    """ComfyUI's "simple": every (1000/steps)-th entry of the σ table from the top, then 0."""
    s = model_sampling
    ss = len(s.sigmas) / steps
    sigs = [float(s.sigmas[-(1 + int(x * ss))]) for x in range(steps)]
    return torch.FloatTensor(sigs + [0.0])


def karras_schedule(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """k-diffusion's ``get_sigmas_karras`` (float32, with the final 0)."""
    ramp = torch.linspace(0, 1, steps)
    min_inv_rho, max_inv_rho = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def noise_scaling(model_sampling, sigma: float, noise: torch.Tensor) -> torch.Tensor:
    """The first latent from unit ``noise`` and an empty latent image, as ComfyUI's KSampler makes it."""
    if model_sampling.family == "flow":
        return sigma * noise
    max_sigma = float(model_sampling.sigma_max)
    if math.isclose(max_sigma, sigma, rel_tol=1e-05) or sigma > max_sigma:
        return noise * math.sqrt(1.0 + sigma**2)
    return noise * sigma
