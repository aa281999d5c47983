"""Splitting integrators OBA, BAO, OBAB and BAOAB, naive and reduced, with position noise λs
(after arXiv 2402.07211), for VE and flow latents through the phase-space lift (docs/splitting.md).

A synthetic momentum u ~ N(0, I) is attached to the latent; with the denoiser D frozen over a step,
the letters act on (e, u), e = ε̂ = (x − α·D)/σ the predicted noise, as a unit-frequency damped
oscillator whose invariant law is N(0, I) ⊗ N(0, I):

    B(h): u ← u − h·e        A(h): e ← e + h·u        O: u ← c_O·u + √(1 − c_O²)·ξ_u
    P: e ← c_x·e + √(1 − c_x²)·ξ_x (the host's ancestral step with η = λs)
    T: x_{i+1} = α_{i+1}·D + σ_{i+1}·e

with Langevin time δ_i = λ·(1 − r_i), r_i = σ̃_{i+1}/σ̃_i, and c_O = exp(−γ·δ_i). λ = 0 is Euler
(λs = 0) or Euler ancestral (λs = η); BAOAB is the recommended scheme.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .common import alpha, check_sigmas, denoise, predicted_noise, sigma_ratio, steps, transport
from .noise import NoiseSampler, ancestral_keep, draws_position_noise, noise_streams, renoise_
from .params import Param, defaults, s_noise_param, validate_params

SCHEMES = ("BAOAB", "OBAB", "OBA", "BAO")


def split_params(lam: float) -> tuple[Param, ...]:
    """The splitting samplers' parameter table with momentum λ = ``lam`` by default: every other
    entry is shared by the four schemes."""
    return (
        Param(
            name="reduced",
            kind="bool",
            default=True,
            label="reduced",
            tooltip=(
                "On (recommended): one model call per step, reusing the last prediction (the paper's "
                "'reduced' integrator). Off: the naive integrator, two model calls per step, for comparison."
            ),
        ),
        Param(
            name="lam",
            kind="float",
            default=lam,
            label="momentum",
            tooltip=(
                "How far the hidden momentum carries the image each step. 0 = no momentum (plain Euler, or "
                "Euler ancestral with image noise). Higher = livelier at few steps (BAOAB / OBAB: 1.9 by "
                "default); OBA and BAO become biased and unstable towards 2 (1 by default)."
            ),
            min=0.0,
            max=1.95,
            step=0.05,
        ),
        Param(
            name="friction",
            kind="float",
            default=2.0,
            label="friction",
            tooltip=(
                "How quickly the momentum forgets its direction and takes fresh noise. 2 = balanced "
                "(critically damped); low = smoother, longer swings; high = behaves like Euler ancestral."
            ),
            min=0.1,
            max=10.0,
            step=0.1,
        ),
        Param(
            name="lambda_s",
            kind="float",
            default=0.0,
            label="image noise",
            tooltip=(
                "Extra fresh noise put straight into the image each step, in Euler ancestral's eta units. "
                "0 = none (the momentum carries the randomness); 1 = as much as Euler ancestral."
            ),
            min=0.0,
            max=1.0,
            step=0.05,
        ),
        s_noise_param(),
    )


SPLIT_PARAMS = split_params(1.0)  # OBA, BAO and the generic sample_splitting
# BAOAB and OBAB, whose kicks straddle the drift, ranked better at λ = 1.9 than at 1 on an earlier
# stochastic benchmark whose guided cells had no well-defined target (docs/splitting.md#measured)
SYMMETRIC_SPLIT_PARAMS = split_params(1.9)

SCHEME_PARAM = Param(
    name="scheme",
    kind="choice",
    default="BAOAB",
    label="scheme",
    tooltip="Order of the momentum kick (B), drift (A) and noise (O) moves within a step.",
    choices=SCHEMES,
)

_SPLIT = defaults((*SPLIT_PARAMS, SCHEME_PARAM))
_SYMMETRIC = defaults(SYMMETRIC_SPLIT_PARAMS)


@torch.no_grad()
def sample_splitting(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    scheme: str = _SPLIT["scheme"],
    reduced: bool = _SPLIT["reduced"],
    lam: float = _SPLIT["lam"],
    friction: float = _SPLIT["friction"],
    lambda_s: float = _SPLIT["lambda_s"],
    s_noise: float = _SPLIT["s_noise"],
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
    model_family: str = "ve",
) -> torch.Tensor:
    """Splitting integrator ``scheme`` (one of :data:`SCHEMES`) on the phase-space lift; per step i,
    with D frozen over the step and δ = δ_i:

        BAOAB: B(δ/2) A(δ/2) O A(δ/2) B(δ/2)     OBAB: O B(δ/2) A(δ) B(δ/2)
        OBA:   O B(δ) A(δ)                       BAO:  B(δ) A(δ) O
        then P and T (module docstring).

    Reduced (1 NFE per step): OBAB/BAOAB close with B(δ/2) at the new point and level, which is also
    the next step's evaluation (first-same-as-last). Naive (2 NFE per step while δ > 0): after the A
    moves D is re-evaluated at the moved point and the old level, and the closing B and the transport
    use it (docs/splitting.md#naive-and-reduced).

    BAOAB keeps the momentum in the frame where its step-boundary law is exact,
    u ~ N(0, 1 − δ²/4), rescaling u by √(1 − δ_{i+1}²/4)/√(1 − δ_i²/4) when δ changes; so with a
    constant denoiser Var(ε̂) = 1 at every step for every schedule (docs/splitting.md#baoab-rescale).
    """
    checked = validate_params((*SPLIT_PARAMS, SCHEME_PARAM), {
        "scheme": scheme, "reduced": reduced, "lam": lam, "friction": friction, "lambda_s": lambda_s, "s_noise": s_noise,
    })
    scheme, reduced, lam = checked["scheme"], checked["reduced"], checked["lam"]
    friction, lambda_s, s_noise = checked["friction"], checked["lambda_s"], checked["s_noise"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    streams = noise_streams(x, extra_args, noise_sampler, momentum_noise_sampler)
    dtype = x.dtype
    half_first = scheme in ("BAOAB", "OBAB")  # B is split around the position move
    u: torch.Tensor | None = None
    u_scale = 1.0  # BAOAB: the √(1 − δ²/4) that u's law carries now
    pending_kick = 0.0  # reduced OBAB/BAOAB: the closing B(δ_{i−1}/2), applied with ε̂_i

    for i, sigma, sigma_next in steps(levels, disable):
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next == 0.0:  # the final denoise; the momentum is dropped
            x, u, pending_kick = denoised, None, 0.0
            continue
        a, a_next = alpha(sigma, model_family), alpha(sigma_next, model_family)
        s_t, s_next_t = sigmas[i], sigmas[i + 1]
        e = predicted_noise(x, denoised, a, sigma)
        if pending_kick:
            u.sub_(e, alpha=pending_kick)
            pending_kick = 0.0
        delta = lam * (1.0 - sigma_ratio(sigma, sigma_next, model_family))

        if delta > 0.0:
            if u is None:
                u = streams.momentum(s_t, s_next_t)
                if s_noise != 1.0:
                    u.mul_(s_noise)
                u_scale = 1.0
            keep_o = math.exp(-friction * delta)
            noise_u = streams.momentum(s_t, s_next_t) if s_noise > 0.0 else None
            kick = 0.5 * delta if half_first else delta

            if scheme == "BAOAB":
                scale = math.sqrt(1.0 - 0.25 * delta * delta)
                if scale != u_scale:
                    u.mul_(scale / u_scale)
                    u_scale = scale
                u.sub_(e, alpha=kick)
                e.add_(u, alpha=0.5 * delta)
                renoise_(u, keep_o, noise_u, s_noise)
                e.add_(u, alpha=0.5 * delta)
            elif scheme == "BAO":
                u.sub_(e, alpha=kick)
                e.add_(u, alpha=delta)
                renoise_(u, keep_o, noise_u, s_noise)
            else:  # OBA, OBAB
                renoise_(u, keep_o, noise_u, s_noise)
                u.sub_(e, alpha=kick)
                e.add_(u, alpha=delta)

            if not reduced:  # naive: D at the moved point, at the step's own level
                x_moved = transport(e, denoised, a, sigma)
                denoised = denoise(model, x_moved, sigmas, levels, i, extra_args)
                e = predicted_noise(x_moved, denoised, a, sigma)
                if half_first:
                    u.sub_(e, alpha=kick)
            elif half_first:
                pending_kick = kick

        keep_x = ancestral_keep(sigma, sigma_next, lambda_s, model_family)
        noise_x = streams.position(s_t, s_next_t) if draws_position_noise(sigma_next, lambda_s) else None
        renoise_(e, keep_x, noise_x, s_noise)
        x = transport(e, denoised, a_next, sigma_next)
    return x.to(dtype)


@torch.no_grad()
def sample_split_baoab(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    reduced: bool = _SPLIT["reduced"],
    lam: float = _SYMMETRIC["lam"],
    friction: float = _SPLIT["friction"],
    lambda_s: float = _SPLIT["lambda_s"],
    s_noise: float = _SPLIT["s_noise"],
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
    model_family: str = "ve",
) -> torch.Tensor:
    """Splitting integrator BAOAB on the phase-space lift: B(δ/2)·A(δ/2)·O·A(δ/2)·B(δ/2)
    (:func:`sample_splitting`). Keeps the noise statistics exact with a constant denoiser for every
    δ < 2; the recommended stochastic sampler (reduced: 1 NFE per step)."""
    return sample_splitting(
        model, x, sigmas, extra_args, callback, disable, scheme="BAOAB", reduced=reduced, lam=lam,
        friction=friction, lambda_s=lambda_s, s_noise=s_noise, noise_sampler=noise_sampler,
        momentum_noise_sampler=momentum_noise_sampler, model_family=model_family,
    )


@torch.no_grad()
def sample_split_obab(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    reduced: bool = _SPLIT["reduced"],
    lam: float = _SYMMETRIC["lam"],
    friction: float = _SPLIT["friction"],
    lambda_s: float = _SPLIT["lambda_s"],
    s_noise: float = _SPLIT["s_noise"],
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
    model_family: str = "ve",
) -> torch.Tensor:
    """Splitting integrator OBAB on the phase-space lift: O·B(δ/2)·A(δ)·B(δ/2), the closing kick at
    the new level (:func:`sample_splitting`; reduced: 1 NFE per step). Over-disperses by O(δ²)."""
    return sample_splitting(
        model, x, sigmas, extra_args, callback, disable, scheme="OBAB", reduced=reduced, lam=lam,
        friction=friction, lambda_s=lambda_s, s_noise=s_noise, noise_sampler=noise_sampler,
        momentum_noise_sampler=momentum_noise_sampler, model_family=model_family,
    )


@torch.no_grad()
def sample_split_oba(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    reduced: bool = _SPLIT["reduced"],
    lam: float = _SPLIT["lam"],
    friction: float = _SPLIT["friction"],
    lambda_s: float = _SPLIT["lambda_s"],
    s_noise: float = _SPLIT["s_noise"],
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
    model_family: str = "ve",
) -> torch.Tensor:
    """Splitting integrator OBA on the phase-space lift: O·B(δ)·A(δ), the paper's best on PSLD
    (:func:`sample_splitting`). Here biased by O(δ) and unstable for large δ (between 1 and 1.5,
    docs/splitting.md#stability-range); prefer BAOAB."""
    return sample_splitting(
        model, x, sigmas, extra_args, callback, disable, scheme="OBA", reduced=reduced, lam=lam,
        friction=friction, lambda_s=lambda_s, s_noise=s_noise, noise_sampler=noise_sampler,
        momentum_noise_sampler=momentum_noise_sampler, model_family=model_family,
    )


@torch.no_grad()
def sample_split_bao(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    reduced: bool = _SPLIT["reduced"],
    lam: float = _SPLIT["lam"],
    friction: float = _SPLIT["friction"],
    lambda_s: float = _SPLIT["lambda_s"],
    s_noise: float = _SPLIT["s_noise"],
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
    model_family: str = "ve",
) -> torch.Tensor:
    """Splitting integrator BAO on the phase-space lift: B(δ)·A(δ)·O (:func:`sample_splitting`).
    Biased by O(δ) and unstable for large δ (between 1 and 1.5, docs/splitting.md#stability-range);
    prefer BAOAB."""
    return sample_splitting(
        model, x, sigmas, extra_args, callback, disable, scheme="BAO", reduced=reduced, lam=lam,
        friction=friction, lambda_s=lambda_s, s_noise=s_noise, noise_sampler=noise_sampler,
        momentum_noise_sampler=momentum_noise_sampler, model_family=model_family,
    )
