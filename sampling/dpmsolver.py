"""DPM-Solver++(2M) with heavy-ball momentum (arXiv 2307.11118; docs/dpm_solver.md)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .common import alpha, check_sigmas, data_weight, denoise, half_log_snr, step_ratio, steps
from .params import Param, beta_param, defaults, validate_params

DPMPP_2M_HB_PARAMS: tuple[Param, ...] = (beta_param(0.8),)
_DPMPP_2M_HB = defaults(DPMPP_2M_HB_PARAMS)


@torch.no_grad()
def sample_dpmpp_2m_hb(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    beta: float = _DPMPP_2M_HB["beta"],
    model_family: str = "ve",
) -> torch.Tensor:
    """DPM-Solver++(2M) in λ = log(α/σ) with heavy-ball momentum on its data prediction
    (docs/dpm_solver.md#update-rule), h_i = λ_{i+1} − λ_i, r = h_{i−1}/h_i:

        D'_i = D_i + (D_i − D_{i−1})/(2r)   (D'_i = D_i on the first step)
        v_i = (1 − β)·v_{i−1} + β·D'_i      (v_0 = D'_0)
        x_{i+1} = (σ_{i+1}/σ_i)·x_i + α_{i+1}·(1 − e^{−h_i})·v_i

    The step to σ = 0 returns D_i, the final denoise, rather than the momentum average (equal at
    β = 1, where it is k-diffusion's last step): the average would blend the previous level's
    prediction into the image, and D_i measures slightly closer to the exact solution
    (docs/dpm_solver.md#the-last-step).

    α = 1 for VE latents, where β = 1 is k-diffusion's ``sample_dpmpp_2m``; α = 1 − σ for flow
    latents, where the first step from σ = 1 (λ = −inf) is DDIM (docs/dpm_solver.md#flow-models).
    """
    beta = validate_params(DPMPP_2M_HB_PARAMS, {"beta": beta})["beta"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    lambdas = [half_log_snr(s, model_family) for s in levels]
    old_denoised = None
    h_last = math.nan
    velocity = None
    for i, sigma, sigma_next in steps(levels, disable):
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next in (sigma, 0.0):  # the final denoise (not the momentum average), or a zero-length step
            x = denoised if sigma_next == 0.0 else x
            continue
        h = lambdas[i + 1] - lambdas[i]
        half_inv_r = 0.5 * step_ratio(h, h_last)  # 1/(2r)
        if old_denoised is None or half_inv_r == 0.0:
            corrected = denoised
        else:
            corrected = torch.lerp(old_denoised, denoised, 1.0 + half_inv_r)
        # v ← (1 − β)·v + β·D' as a lerp: one pass, and D' may alias D_i, so v is replaced, never
        # written in place, until it is a tensor of its own
        if velocity is None or beta == 1.0:
            velocity = corrected
        elif velocity is old_denoised:
            velocity = torch.lerp(velocity, corrected, beta)
        else:
            velocity.lerp_(corrected, beta)
        del corrected
        x = (x * (sigma_next / sigma)).add_(velocity, alpha=data_weight(h, alpha(sigma_next, model_family)))
        old_denoised, h_last = denoised, h
    return x
