"""Adaptive Momentum Sampling (AMS, arXiv 2405.13726) as a predictor–corrector sampler with
scale-free momentum, for VE and flow latents (docs/ams.md).

Each step runs one Langevin corrector at the current level with the AMS heavy-ball momentum and its
adaptive β (no user β), then the host's ancestral Euler step as predictor. The momentum is kept in
scale-free units G = −ε̂ = σ·∇log p_σ(x), which are O(1) at every level; at a fixed level this is the
published update with step α = a·σ².
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .common import alpha, check_sigmas, denoise, predicted_noise, steps, transport
from .noise import NoiseSampler, ancestral_keep, draws_position_noise, noise_streams, renoise_
from .params import Param, defaults, s_noise_param, validate_params

BETA_MAX = 1.0 - 1e-4  # the published clip of β (SDE / graph code)
# Cap on the scale-free step a (a deviation from Song's rule): ‖G‖ ≈ 0 makes a → ∞ and one corrector
# step would throw the sample away. Never reached on image latents, where ‖z‖/‖G‖ ≈ 1; it does bite
# now and then in d ≈ 16 at the lowest levels.
MAX_STEP = 1.0

AMS_PARAMS: tuple[Param, ...] = (
    Param(
        name="snr",
        kind="float",
        default=0.16,
        label="corrector strength",
        tooltip=(
            "Strength of the momentum corrector run before every step (its signal-to-noise ratio). "
            "0 = no corrector: plain Euler ancestral at half the model calls. 0.16 = the paper's value."
        ),
        min=0.0,
        max=0.5,
        step=0.01,
    ),
    Param(
        name="eta",
        kind="float",
        default=1.0,
        label="eta",
        tooltip="Fresh noise in each step's Euler ancestral move: 1 = full ancestral, 0 = deterministic Euler move.",
        min=0.0,
        max=1.0,
        step=0.01,
    ),
    s_noise_param(),
    Param(
        name="variance_preserving",
        kind="bool",
        default=True,
        label="variance preserving",
        tooltip=(
            "On (recommended): the corrector's noise is scaled with its momentum so the image keeps the "
            "right amount of variation. Off: the paper's original noise, which over-sharpens."
        ),
    ),
)

_AMS = defaults(AMS_PARAMS)


def _sample_norm(t: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm over every latent element, shaped (B, 1, …, 1) to broadcast."""
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.ndim - 1)))


@torch.no_grad()
def sample_ams(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    snr: float = _AMS["snr"],
    eta: float = _AMS["eta"],
    s_noise: float = _AMS["s_noise"],
    variance_preserving: bool = _AMS["variance_preserving"],
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
    model_family: str = "ve",
) -> torch.Tensor:
    """AMS-PC, scale-free (docs/ams.md#update-rule): 2 NFE per step (1 when ``snr`` = 0, and at
    σ = 1 on flow latents).

    Corrector (snr > 0, α_i > 0), per sample: G = −ε̂(x; σ_i), z from the momentum stream,
    a = 2·(snr·‖z‖/‖G‖)²; β = 0 and m = G on the first corrector step, else
    L̂ = ‖G − G_prev‖/‖Δ_prev‖, β = clip(((1 − ã_prev·L̂)/(1 + ã_prev·L̂))², 0, 1 − 10⁻⁴),
    m ← β·m + (1 − β)·G; ã = a·(1 + β)², Δ = ã·m, x ← x + σ_i·Δ + s_noise·σ_i·√(2·a·κ)·z with
    κ = (1 + β)² (variance-preserving) or 1 (the paper's noise).
    Predictor: the host's ancestral Euler step with ``eta`` (position stream); last step x = D.

    State carried across levels: the momentum m, the previous G and per-sample scalars.
    """
    checked = validate_params(
        AMS_PARAMS, {"snr": snr, "eta": eta, "s_noise": s_noise, "variance_preserving": variance_preserving}
    )
    snr, eta = checked["snr"], checked["eta"]
    s_noise, variance_preserving = checked["s_noise"], checked["variance_preserving"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    streams = noise_streams(x, extra_args, noise_sampler, momentum_noise_sampler)
    dtype = x.dtype
    momentum = grad_prev = None
    step_prev = move_prev = None  # ã_prev and ‖Δ_prev‖, per sample

    for i, sigma, sigma_next in steps(levels, disable):
        a_i = alpha(sigma, model_family)
        s_t, s_next_t = sigmas[i], sigmas[i + 1]

        if snr > 0.0 and a_i > 0.0 and sigma > 0.0:
            grad = predicted_noise(x, denoise(model, x, sigmas, levels, i, extra_args), a_i, sigma).neg_()
            z = streams.momentum(s_t, s_next_t)
            tiny = torch.finfo(grad.dtype).tiny
            step = (snr * _sample_norm(z) / _sample_norm(grad).clamp_min(tiny)).square_().mul_(2.0)
            step.clamp_(max=MAX_STEP)
            if momentum is None:
                momentum, beta = grad.clone(), torch.zeros_like(step)
            else:
                # grad_prev is replaced by grad below, so the difference is taken in its storage
                curvature = _sample_norm(grad_prev.sub_(grad)) / move_prev.clamp_min(tiny)
                ratio = step_prev * curvature
                beta = ((1.0 - ratio) / (1.0 + ratio)).square_().clamp_(0.0, BETA_MAX)
                momentum.lerp_(grad, 1.0 - beta)  # m ← β·m + (1 − β)·G
            grad_prev = grad
            step_prev = step * (1.0 + beta).square()
            move_prev = _sample_norm(momentum) * step_prev  # ‖Δ‖ with Δ = ã·m, ã > 0 per sample
            kappa = (1.0 + beta).square() if variance_preserving else 1.0
            noise_scale = (2.0 * step * kappa).sqrt_().mul_(s_noise * sigma)
            x = torch.addcmul(x, momentum, step_prev * sigma).addcmul_(z, noise_scale)
            del z

        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next == 0.0:  # the final denoise
            x = denoised
            continue
        e = predicted_noise(x, denoised, a_i, sigma)
        keep = ancestral_keep(sigma, sigma_next, eta, model_family)
        noise = streams.position(s_t, s_next_t) if draws_position_noise(sigma_next, eta) else None
        renoise_(e, keep, noise, s_noise)
        x = transport(e, denoised, alpha(sigma_next, model_family), sigma_next)
    return x.to(dtype)
