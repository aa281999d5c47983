"""What the Adaptive 3M / Order / Blend tests share: the schedules and the start noise they sample."""

from __future__ import annotations

import torch

from momentum_samplers.testbed.kdiffusion import load_k_diffusion_sampling


def karras(steps: int, sigma_min: float = 0.03, sigma_max: float = 14.6) -> torch.Tensor:
    return load_k_diffusion_sampling().get_sigmas_karras(steps, sigma_min, sigma_max, rho=7.0).double()


def flow_sigmas(steps: int) -> torch.Tensor:
    t = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return 3.0 * t / (1.0 + 2.0 * t)  # discrete flow with shift 3


def start(n: int, seed: int = 3) -> torch.Tensor:
    """Unit noise for n single-channel 16×16 latents, float64."""
    return torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
