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
    previous = None  # D_{i−1}, copied into the sampler's own storage: D'_i is formed over it
    h_last = math.nan
    velocity = None
    velocity_owned = False  # v_0 = D'_0 may be the model's tensor: replaced, never written in place, until ours
    owned = False  # x is the caller's until the first step makes a new one
    for i, sigma, sigma_next in steps(levels, disable):
        denoised = None  # a zero-length step's model value is freed before the model makes the next
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next in (sigma, 0.0):  # the final denoise (not the momentum average), or a zero-length step
            x = denoised if sigma_next == 0.0 else x
            continue
        h = lambdas[i + 1] - lambdas[i]
        half_inv_r = 0.5 * step_ratio(h, h_last)  # 1/(2r)
        if previous is None or half_inv_r == 0.0:
            corrected = denoised
        else:
            corrected = torch.lerp(previous, denoised, 1.0 + half_inv_r, out=previous)
        spare, previous = (None if corrected is denoised else corrected), None  # D''s storage, when ours
        # v ← (1 − β)·v + β·D' as a lerp: one pass
        if velocity is None or beta == 1.0:
            velocity, velocity_owned = corrected, spare is not None
        elif velocity_owned:
            velocity.lerp_(corrected, beta)
        else:
            velocity, velocity_owned = torch.lerp(velocity, corrected, beta, out=spare), True
        del corrected
        step_weight = data_weight(h, alpha(sigma_next, model_family))
        # x_{i+1} in x's storage once x is the sampler's own and no model value shares it (a model may
        # return its input): a new x beside the old one would be one latent more
        if owned and denoised.untyped_storage().data_ptr() != x.untyped_storage().data_ptr():
            x = x.mul_(sigma_next / sigma).add_(velocity, alpha=step_weight)
        else:
            x, owned = (x * (sigma_next / sigma)).add_(velocity, alpha=step_weight), True
        if beta == 1.0:  # v = D' afresh each step: nothing is carried
            velocity = None
        # D_i for the next step, copied (the model's tensor may be the host's too) into D''s storage when free
        previous = spare.copy_(denoised) if spare is not None and spare is not velocity else denoised.clone()
        h_last = h
    return x
