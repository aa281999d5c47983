"""Small models for the core tests: closed-form denoisers that work on latents of any shape."""

from __future__ import annotations

import torch


class GaussianDenoiser:
    """Exact denoiser of N(mean, var·I) data for VE latents, elementwise, any latent rank.
    Records every call's keyword arguments so tests can check ``extra_args`` forwarding."""

    def __init__(self, mean: float | torch.Tensor = 0.3, var: float = 0.25) -> None:
        self.mean, self.var = mean, var
        self.calls: list[dict] = []

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
        self.calls.append(kwargs)
        s2 = sigma.reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype) ** 2
        return (self.var * x + s2 * self.mean) / (self.var + s2)


class NaNAfter:
    """Returns NaN from its ``bad_call``-th call on (1-based)."""

    def __init__(self, inner, bad_call: int) -> None:
        self.inner, self.bad_call, self.n = inner, bad_call, 0

    def __call__(self, x, sigma, **kwargs):
        self.n += 1
        out = self.inner(x, sigma, **kwargs)
        return out * float("nan") if self.n >= self.bad_call else out
