"""Reference ODE solutions and the metrics the tests, demo and benchmark report (docs/testbed.md#rk4-reference)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch


@torch.no_grad()
def reference_solution(
    model: Callable, x: torch.Tensor, sigma_from: float, sigma_to: float, steps: int = 400, extra_args: dict | None = None
) -> torch.Tensor:
    """Solve the probability-flow ODE from σ_from down to σ_to > 0 with classical RK4 in t = log σ.

    In t the ODE is dx/dt = σ·dx/dσ = x − D(x; σ), for VE and flow latents alike.
    """
    if not sigma_from >= sigma_to > 0:
        raise ValueError("reference_solution needs sigma_from >= sigma_to > 0")
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    t0, t1 = math.log(sigma_from), math.log(sigma_to)
    h = (t1 - t0) / steps

    def f(x: torch.Tensor, t: float) -> torch.Tensor:
        return x - model(x, math.exp(t) * s_in, **extra_args)

    for n in range(steps):
        t = t0 + n * h
        k1 = f(x, t)
        k2 = f(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = f(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = f(x + h * k3, t + h)
        x = x + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def rms_error(x: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean over samples of the per-sample RMS difference."""
    diff = (x - reference).reshape(x.shape[0], -1).double()
    return float(diff.pow(2).mean(1).sqrt().mean())


def out_of_range_percent(x: torch.Tensor, threshold: float) -> float:
    """Percent of latent values beyond ±threshold: the saturation ("burn") metric."""
    return float((x.abs() > threshold).double().mean() * 100)


def data_range(samples: torch.Tensor, quantile: float = 0.999) -> float:
    """The data-range threshold T: the ``quantile`` of |value| over exact data samples."""
    return float(torch.quantile(samples.abs().reshape(-1).double()[:2_000_000], quantile))


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, projections: int = 256, p: int = 2, seed: int = 0) -> float:
    """Sliced Wasserstein-p distance between two equal-size sample sets (random unit directions)."""
    a = a.reshape(a.shape[0], -1).double()
    b = b.reshape(b.shape[0], -1).double()
    if a.shape != b.shape:
        raise ValueError("sliced_wasserstein needs two sample sets of equal size and dimension")
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(a.shape[1], projections, generator=g, dtype=torch.float64)
    dirs /= dirs.norm(dim=0, keepdim=True)
    pa, _ = (a @ dirs).sort(dim=0)
    pb, _ = (b @ dirs).sort(dim=0)
    return float((pa - pb).abs().pow(p).mean().pow(1.0 / p))


@torch.no_grad()
def reference_checkpoints(
    model: Callable,
    x: torch.Tensor,
    sigma_from: float,
    sigmas_to: list[float],
    steps_per_unit: float = 65.0,
    extra_args: dict | None = None,
) -> dict[float, torch.Tensor]:
    """One RK4 solve in log σ from σ_from through every level in ``sigmas_to`` (each > 0): the state at
    each level. Each segment takes ceil(steps_per_unit · |Δ log σ|) steps (65 per unit is about
    :func:`reference_solution`'s 400 steps from 14.6 to 0.03)."""
    out: dict[float, torch.Tensor] = {}
    current = sigma_from
    for level in sorted(set(sigmas_to), reverse=True):
        if level == current:
            out[level] = x
            continue
        steps = max(1, math.ceil(steps_per_unit * abs(math.log(current / level))))
        x = reference_solution(model, x, current, level, steps=steps, extra_args=extra_args)
        out[level] = x
        current = level
    return out
