"""Host-free copies of the model samplings and schedules that the all-round benchmark uses, equal to
ComfyUI's (``comfy.model_sampling``, ``comfy.samplers``) where those are present (tests/test_schedules.py
compares them).

- :class:`DiscreteVE`: an SD1.5-like discrete ε-model, linear betas 0.00085–0.012 over 1000 steps:
  the σ table, σ(t) by log-linear interpolation, t(σ) by nearest table entry, float32 like the host.
- :class:`DiscreteFlow`: a discrete flow model, σ(t) = shift·τ/(1 + (shift − 1)·τ), τ = t/1000.
- :func:`calculate_sigmas`: every scheduler ComfyUI 0.8.0 offers ("normal", "karras", "exponential",
  "sgm_uniform", "simple", "ddim_uniform", "beta", "linear_quadratic", "kl_optimal"), by name, for a
  model sampling, as ``comfy.samplers.calculate_sigmas`` computes them;
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


def normal_schedule(model_sampling, steps: int, sgm: bool = False) -> torch.Tensor:
    """ComfyUI's "normal": timesteps evenly spaced from t(σ_max) to t(σ_min), then 0; with ``sgm``
    ("sgm_uniform") ``steps`` of ``steps + 1`` evenly spaced timesteps, the last one dropped."""
    s = model_sampling
    start, end = s.timestep(s.sigma_max), s.timestep(s.sigma_min)
    append_zero = True
    if sgm:
        timesteps = torch.linspace(start, end, steps + 1)[:-1]
    else:
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


def ddim_uniform_schedule(model_sampling, steps: int) -> torch.Tensor:
    """ComfyUI's "ddim_uniform": every (1000 // steps)-th entry of the σ table from the second one up,
    reversed, with 0 first in table order (so last)."""
    s = model_sampling
    x = 1
    if math.isclose(float(s.sigmas[x]), 0, abs_tol=0.00001):
        steps += 1
        sigs: list[float] = []
    else:
        sigs = [0.0]
    ss = max(len(s.sigmas) // steps, 1)
    while x < len(s.sigmas):
        sigs.append(float(s.sigmas[x]))
        x += ss
    return torch.FloatTensor(sigs[::-1])


def beta_schedule(model_sampling, steps: int, alpha: float = 0.6, beta: float = 0.6) -> torch.Tensor:
    """ComfyUI's "beta" (Lee et al. 2024): σ table entries at the Beta(0.6, 0.6) quantiles of
    ``steps`` evenly spaced levels, repeats dropped, then 0."""
    import numpy
    import scipy.stats

    total = len(model_sampling.sigmas) - 1
    ts = 1 - numpy.linspace(0, 1, steps, endpoint=False)
    ts = numpy.rint(scipy.stats.beta.ppf(ts, alpha, beta) * total)
    sigs: list[float] = []
    last = -1
    for t in ts:
        if t != last:
            sigs.append(float(model_sampling.sigmas[int(t)]))
        last = t
    return torch.FloatTensor(sigs + [0.0])


def linear_quadratic_schedule(model_sampling, steps: int, threshold_noise: float = 0.025) -> torch.Tensor:
    """ComfyUI's "linear_quadratic" (Mochi): linear in the first half of the steps up to 2.5 % of the
    noise removed, quadratic after, scaled by σ_max."""
    if steps == 1:
        schedule = [1.0, 0.0]
    else:
        linear_steps = steps // 2
        linear = [i * threshold_noise / linear_steps for i in range(linear_steps)]
        diff = linear_steps - threshold_noise * steps
        quadratic_steps = steps - linear_steps
        quadratic_coef = diff / (linear_steps * quadratic_steps**2)
        linear_coef = threshold_noise / linear_steps - 2 * diff / (quadratic_steps**2)
        const = quadratic_coef * (linear_steps**2)
        quadratic = [quadratic_coef * (i**2) + linear_coef * i + const for i in range(linear_steps, steps)]
        schedule = [1.0 - v for v in linear + quadratic + [1.0]]
    return torch.FloatTensor(schedule) * model_sampling.sigma_max.cpu()


def exponential_schedule(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """k-diffusion's ``get_sigmas_exponential``: evenly spaced in log σ, then 0."""
    sigmas = torch.linspace(math.log(sigma_max), math.log(sigma_min), steps).exp()
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def kl_optimal_schedule(steps: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """ComfyUI's "kl_optimal": evenly spaced in arctan σ, then 0."""
    idx = torch.arange(steps, dtype=torch.float).div_(steps - 1)
    sigmas = idx.new_zeros(steps + 1)
    sigmas[:-1] = (idx * math.atan(sigma_min) + (1 - idx) * math.atan(sigma_max)).tan_()
    return sigmas


SCHEDULERS = ("normal", "karras", "exponential", "sgm_uniform", "simple", "ddim_uniform", "beta", "linear_quadratic",
              "kl_optimal")


def calculate_sigmas(model_sampling, name: str, steps: int) -> torch.Tensor:
    """The scheduler ``name`` of ComfyUI (one of :data:`SCHEDULERS`) at ``steps`` steps for ``model_sampling``."""
    s = model_sampling
    span = {"sigma_min": float(s.sigma_min), "sigma_max": float(s.sigma_max)}
    if name == "karras":
        return karras_schedule(steps, **span)
    if name == "exponential":
        return exponential_schedule(steps, **span)
    if name == "kl_optimal":
        return kl_optimal_schedule(steps, **span)
    makers = {"normal": normal_schedule, "sgm_uniform": lambda ms, n: normal_schedule(ms, n, sgm=True),
              "simple": simple_schedule, "ddim_uniform": ddim_uniform_schedule, "beta": beta_schedule,
              "linear_quadratic": linear_quadratic_schedule}
    if name not in makers:
        raise ValueError(f"unknown scheduler {name!r}: expected one of {', '.join(SCHEDULERS)}")
    return makers[name](s, steps)


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
