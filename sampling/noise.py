"""Seeded noise for the stochastic samplers and the ancestral re-noising rule (docs/noise.md).

Two independent streams per run:

- *position* noise, the one a host ancestral sampler would draw: the host's ``noise_sampler`` if it
  passes one, else ComfyUI's ``default_noise_sampler(x, seed)`` semantics with ``extra_args["seed"]``,
  consumed exactly as the host's ``euler_ancestral`` consumes it, so that the reductions are
  bit-for-bit comparable;
- *momentum* noise (splitting momentum, AMS corrector): always a fresh generator seeded from the same
  seed plus :data:`MOMENTUM_SEED_OFFSET`. It never reuses the host's sampler: a Brownian tree queried
  twice on one interval returns the same increment, which would correlate the two streams.

Without a seed both streams draw from torch's global generator, which hosts seed per run. A host may
also pass the momentum stream itself (``momentum_noise_sampler``), e.g. one generator per image.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

NoiseSampler = Callable[[torch.Tensor | float, torch.Tensor | float], torch.Tensor]

MOMENTUM_SEED_OFFSET = 0x5EED
_SEED_MODULUS = 2**64  # torch.Generator.manual_seed accepts [0, 2**64)


def default_noise_sampler(x: torch.Tensor, seed: int | None = None) -> NoiseSampler:
    """Standard normal noise shaped like ``x``, as ComfyUI's ``default_noise_sampler``: a generator on
    ``x.device`` seeded with ``seed`` (``seed + 1`` on the CPU, where the host drew the initial noise
    from ``seed`` itself), or the global generator when ``seed`` is None."""
    generator = None
    if seed is not None:
        seed = int(seed) + (1 if x.device.type == "cpu" else 0)
        generator = torch.Generator(device=x.device)
        generator.manual_seed(seed % _SEED_MODULUS)
    return lambda sigma, sigma_next: torch.randn(
        x.size(), dtype=x.dtype, layout=x.layout, device=x.device, generator=generator
    )


@dataclass(frozen=True)
class NoiseStreams:
    """The two independent noise sources of one sampling run."""

    position: NoiseSampler
    momentum: NoiseSampler


def noise_streams(
    x: torch.Tensor,
    extra_args: dict,
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
) -> NoiseStreams:
    """Position and momentum streams for a run on ``x`` (see the module docstring).

    Same seed → same bits on the same device; the batch is drawn as one tensor, as the hosts do. A
    host that seeds each image separately (A1111) passes ``momentum_noise_sampler`` too, drawn from
    generators of its own, so that an image does not depend on its batch.
    """
    if momentum_noise_sampler is not None and momentum_noise_sampler is noise_sampler:
        raise ValueError(
            "momentum_noise_sampler must be a separate noise source from noise_sampler: "
            "sharing one correlates the image noise with the momentum noise"
        )
    seed = extra_args.get("seed")
    position = noise_sampler if noise_sampler is not None else default_noise_sampler(x, seed)
    if momentum_noise_sampler is None:
        momentum_seed = None if seed is None else (int(seed) + MOMENTUM_SEED_OFFSET) % _SEED_MODULUS
        momentum_noise_sampler = default_noise_sampler(x, momentum_seed)
    return NoiseStreams(position, momentum_noise_sampler)


def draws_position_noise(sigma_next: float, eta: float) -> bool:
    """Whether to draw position noise on this step, in step with the host's ``euler_ancestral``.

    The host draws whenever σ_{i+1} > 0 (k-diffusion, VE: even at η = 0; ComfyUI's RF branch: only
    when η > 0). At η = 0 no noise is ever used, so skipping every draw then keeps the same pairing
    of draws and steps.
    """
    return sigma_next > 0.0 and eta > 0.0


def ancestral_keep(sigma: float, sigma_next: float, eta: float, family: str) -> float:
    """c_anc(σ_i, σ_{i+1}; η): the share of ε̂ that an ancestral step keeps, so that
    ε_new = c·ε̂ + √(1 − c²)·ξ reproduces the host's ancestral step.

    VE: c = σ_down/σ_{i+1} with k-diffusion's ``get_ancestral_step``; flow: ComfyUI's RF rule
    σ_down = σ_{i+1}·(1 + (σ_{i+1}/σ_i − 1)·η) and c = σ̃_down/σ̃_{i+1}, σ̃ = σ/(1 − σ).
    """
    if eta == 0.0 or sigma_next == sigma:
        return 1.0
    if sigma_next == 0.0:
        return 0.0
    if family == "flow":
        sigma_down = sigma_next * (1.0 + (sigma_next / sigma - 1.0) * eta)
        return (sigma_down * (1.0 - sigma_next)) / ((1.0 - sigma_down) * sigma_next)
    sigma_up = min(sigma_next, eta * math.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2))
    return math.sqrt(sigma_next**2 - sigma_up**2) / sigma_next


def renoise_(eps: torch.Tensor, keep: float, noise: torch.Tensor | None, s_noise: float) -> torch.Tensor:
    """In place: ε ← c·ε + s_noise·√(1 − c²)·ξ (ε unchanged when c = 1 or there is no noise)."""
    if keep != 1.0:
        eps.mul_(keep)
    if noise is not None and keep < 1.0:
        eps.add_(noise, alpha=s_noise * math.sqrt(1.0 - keep * keep))
    return eps
