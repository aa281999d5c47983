"""Adaptive 3M: a third-order multistep exponential integrator in σ̃ = σ/α with a per-image limiter on
its highest-order term (docs/adaptive.md).

The probability-flow ODE in data-prediction form is exact in y = x/α and σ̃ = σ/α:

    y_{i+1}/σ̃_{i+1} = y_i/σ̃_i + ∫_{σ̃_{i+1}}^{σ̃_i} D(σ̃)/σ̃² dσ̃

Each step replaces D by the polynomial in σ̃ through the last three model values (Newton form) and
integrates it exactly. σ̃ rather than λ = −log σ̃: a denoiser varies like σ̃² near the data and like
1/σ̃² far from it, so a polynomial in σ̃ stays accurate over the long final steps of the schedules
people use ("normal", "simple"); ComfyUI's er_sde in ODE mode builds on the same variable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from .common import check_sigmas, denoise, scaled_sigma, steps
from .params import Param, defaults, order_param, validate_params

if TYPE_CHECKING:
    from .blend import NoiseFormCompanion

ADAPTIVE_3M_PARAMS: tuple[Param, ...] = (
    order_param(3, "Adaptive 3M", highest=3),
    Param(
        name="limit",
        kind="float",
        default=1.0,
        label="limit",
        tooltip=(
            "Stability limit of the third-order term, per image: it may be at most this many times the "
            "second-order term. Where guidance makes the step stiff (high CFG, few steps) the terms stop "
            "shrinking and the limit damps the overshoot that burns images; on smooth steps it never "
            "acts. 0 = second order only; 10 = practically no limit."
        ),
        min=0.0,
        max=10.0,
        step=0.05,
    ),
)
_ADAPTIVE_3M = defaults(ADAPTIVE_3M_PARAMS)

ADAPTIVE_ORDER_PARAMS: tuple[Param, ...] = (
    order_param(3, "Adaptive Order", highest=3),
    ADAPTIVE_3M_PARAMS[1],
    Param(
        name="check",
        kind="float",
        default=0.9,
        label="order check",
        tooltip=(
            "Per image and step, how far the new model value may miss the value the last two predicted "
            "(as a fraction of how far it moved) before the order drops: up to this the full order, from "
            "1.5x this on Euler, in between a blend. Smooth models (low CFG, many steps) stay high order; "
            "rough ones (high CFG on real networks) fall back to Euler's stable step. Higher = trust the "
            "history more; 0 = always Euler."
        ),
        min=0.0,
        max=10.0,
        step=0.05,
    ),
)
_ADAPTIVE_ORDER = defaults(ADAPTIVE_ORDER_PARAMS)
#: Where the order check has fully dropped to Euler, as a multiple of ``check``.
CHECK_SPAN = 1.5
#: Adaptive Blend's λ before both of its families have missed a prediction: an even mix.
EVEN = 0.5


def exact_step_weights(u: float, u_next: float, u_prev: float) -> tuple[float, float, float]:
    """(w, c_1, c_2) for the step σ̃ = u → u_next of the Newton polynomial through u, u_prev, …:

    w = 1 − u_next/u, the data weight of the first-order step, and c_k = (the exact integral of the
    k-th Newton basis polynomial against 1/σ̃²) / (that of 1), with nodes u and u_prev:
    c_1 = average of (σ̃ − u), c_2 = average of (σ̃ − u)(σ̃ − u_prev), both over the step."""
    inverse = 1.0 / u_next - 1.0 / u  # ∫ dσ̃/σ̃²
    log_ratio = math.log(u / u_next)  # ∫ dσ̃/σ̃
    c1 = (log_ratio - u * inverse) / inverse
    c2 = ((u - u_next) - (u + u_prev) * log_ratio + u * u_prev * inverse) / inverse
    return 1.0 - u_next / u, c1, c2


# A step shorter than this fraction of the next one records no model value: a divided difference over it
# would multiply the model's rounding by the ratio of the two steps (near-repeated σ's).
TINY_STEP = 0.05
# From flow's σ = 1 the polynomial is in s = 1/σ̃ while σ̃ > S_ABOVE (noise above signal): there D is
# smooth in s (s = 0 at σ = 1), while a polynomial in σ̃ over σ̃ ≈ 1/(k·h) loses an order at step k.
S_ABOVE = 1.0


def _recorded(scaled: list[float], levels: list[float]) -> list[bool]:
    """Whether the model value of step i enters the history: not where the step after it is tiny
    against the next one (σ̃_i − σ̃_{i+1} < TINY_STEP·(σ̃_{i+1} − σ̃_{i+2})), which then starts its
    differences from the model value before."""
    keep = [True] * len(levels)
    for i in range(len(levels) - 2):
        u, u_next, u_after = scaled[i], scaled[i + 1], scaled[i + 2]
        if math.isfinite(u) and levels[i + 2] > 0.0 and u - u_next < TINY_STEP * (u_next - u_after):
            keep[i] = False
    return keep


def _basis_averages(v: float, v_next: float, v_prev: float, in_s: bool) -> tuple[float, float]:
    """(c_1, c_2): the averages of (v − v_i) and (v − v_i)(v − v_{i−1}) over the step against ds, s = 1/σ̃,
    for nodes in σ̃ (v = σ̃, exact_step_weights) or in s itself (v = s: plain averages over [s_i, s_{i+1}])."""
    if not in_s:
        return exact_step_weights(v, v_next, v_prev)[1:]
    h = v_next - v
    return 0.5 * h, h * h / 3.0 + 0.5 * h * (v - v_prev)


def _norms(t: torch.Tensor) -> torch.Tensor:
    """‖t‖ per image, shaped (B, 1, …) to broadcast against t, accumulated in float32 at least whatever
    the TF32 settings (a reduction, not a matrix product) and without a float32 copy: half-precision
    latents are reduced per plane inside the kernel (which accumulates in float32), and only the
    per-plane norms are upcast."""
    dims = tuple(range(1, t.ndim))
    if t.dtype in (torch.float16, torch.bfloat16) and t.ndim >= 3:
        planes = torch.linalg.vector_norm(t, dim=(-2, -1), keepdim=True).float()
        return torch.linalg.vector_norm(planes, dim=dims, keepdim=True)
    return torch.linalg.vector_norm(t, dim=dims, keepdim=True,
                                    dtype=None if t.dtype in (torch.float32, torch.float64) else torch.float32)


@torch.no_grad()
def sample_adaptive_3m(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    order: int = _ADAPTIVE_3M["order"],
    limit: float = _ADAPTIVE_3M["limit"],
    model_family: str = "ve",
) -> torch.Tensor:
    """Adaptive 3M (docs/adaptive.md#update-rule). With v_i = σ̃_i, D_i the model value at step i and
    the divided differences d1 = (D_i − D_{i−1})/(v_i − v_{i−1}),
    d2 = (d1 − (D_{i−1} − D_{i−2})/(v_{i−1} − v_{i−2}))/(v_i − v_{i−2}):

        T1 = c_1·d1,   T2 = θ·c_2·d2,   θ = min(1, limit·‖T1‖/‖T2‖) per image
        x_{i+1} = (σ_{i+1}/σ_i)·x_i + (1 − σ_{i+1}/σ_i)·(D_i + T1 + T2)

    (1 − σ_{i+1}/σ_i = α_{i+1}·(1 − σ̃_{i+1}/σ̃_i) for VE and flow latents alike), with c_1, c_2 from
    :func:`exact_step_weights` (T2 = 0 before three model values exist, T1 = 0 before two, or always
    below ``order`` 3 / 2). Order 1 is DDIM, i.e. Euler. The step to σ = 0 is the final denoise
    x = D_i, as the hosts' samplers end. While a stencil holds flow's σ = 1 (σ̃ = inf) the polynomial is
    in s = 1/σ̃ = α/σ instead (v = s, s = 0 there): x/σ integrates D over s exactly, so the model value
    at σ = 1 is a node like any other. A step much shorter than the next (``TINY_STEP``) records no
    model value, like a repeated σ.

    Memory: x (the sampler's own from the first step on, updated in place), D_i, and a history of
    D_{i−1} (a copy, overwritten by D_i − D_{i−1}) and D_{i−1} − D_{i−2} (overwritten by d2's
    direction); ‖T1‖ and ‖T2‖ are per-image norms of those two, so θ costs no latent and no sync.
    """
    values = validate_params(ADAPTIVE_3M_PARAMS, {"order": order, "limit": limit})
    return _multistep_in_scaled_sigma(model, x, sigmas, extra_args, callback, disable, values["order"],
                                      values["limit"], None, model_family)


@torch.no_grad()
def sample_adaptive_order(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    order: int = _ADAPTIVE_ORDER["order"],
    limit: float = _ADAPTIVE_ORDER["limit"],
    check: float = _ADAPTIVE_ORDER["check"],
    model_family: str = "ve",
) -> torch.Tensor:
    """Adaptive Order (docs/adaptive.md#adaptive-order): Adaptive 3M whose order each image chooses at
    each step from what the model just returned. The line through D_{i−2}, D_{i−1} predicted D_i; its miss
    against the move since the last step,

        ρ = ‖D_i − D_{i−1} − r·(D_{i−1} − D_{i−2})‖ / ‖D_i − D_{i−1}‖,   r = (v_i − v_{i−1})/(v_{i−1} − v_{i−2}),

    is small where D follows a polynomial along the path (about 0.5 on smooth steps) and near or above 1
    where it does not (the guided output of a trained network at high CFG). The higher-order terms are
    scaled by

        κ = clamp((1.5·check − ρ)/(0.5·check), 0, 1) per image
        x_{i+1} = (σ_{i+1}/σ_i)·x_i + (1 − σ_{i+1}/σ_i)·(D_i + κ·(T1 + T2))

    with T1, T2 and the limit on T2 as in :func:`sample_adaptive_3m`: full order while ρ ≤ check,
    Euler from ρ ≥ 1.5·check, where ρ = min(ρ1, ρ2): ρ1 the line's miss above, ρ2 the parabola through
    D_{i−1}, D_{i−2}, D_{i−3} missing D_i relative to the line (a path that is curved but smooth, as
    right after guidance sets in, misses with the line only). ρ needs three model values, ρ2 four, so the
    second step is unchecked (κ = 1). On flow latents from σ = 1 the first step is DDIM and its model
    value enters no polynomial (unlike Adaptive 3M), which costs order from σ = 1 and gains accuracy
    under guidance at the step counts people use.
    D_i − D_{i−1} − r·(D_{i−1} − D_{i−2}) is (up to −r) the direction of d2 the limit already forms, and the
    parabola's miss is formed over the last step's d2 direction, so the check costs two per-image norms
    and that one latent of history (three in all; at order 2 the differences are kept for the check
    only). ``check`` 10 is Adaptive 3M on smooth models; 0 is Euler.
    """
    values = validate_params(ADAPTIVE_ORDER_PARAMS, {"order": order, "limit": limit, "check": check})
    return _multistep_in_scaled_sigma(model, x, sigmas, extra_args, callback, disable,
                                      values["order"] if values["check"] > 0.0 else 1, values["limit"],
                                      values["check"], model_family)


def _multistep_in_scaled_sigma(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None,
    callback: Callable | None,
    disable: bool | None,
    order: int,
    limit: float,
    check: float | None,
    model_family: str,
    companion: NoiseFormCompanion | None = None,
) -> torch.Tensor:
    """The loop of :func:`sample_adaptive_3m` (``check`` None) and :func:`sample_adaptive_order`. With a
    ``companion`` (Adaptive Blend's noise-form multistep, :mod:`.blend`) each step adds λ times this loop's
    correction and 1 − λ times the companion's to the same first-order step (docs/adaptive.md#adaptive-blend)."""
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    scaled = [scaled_sigma(s, model_family) for s in levels]
    recorded = _recorded(scaled, levels)
    from_noise = bool(scaled) and math.isinf(scaled[0])  # flow from σ = 1
    if check is not None and from_noise:
        # flow from σ = 1: DDIM's first step, and the model value there starts no polynomial. Guided, D
        # turns hardest right after σ = 1, and a polynomial through that value (in s = 1/σ̃ or in σ̃)
        # misleads the next steps more than a first-order start costs (docs/adaptive.md#adaptive-order)
        recorded[0], from_noise = False, False
    keeps_difference = order >= 3 or (order == 2 and check is not None)
    previous = None  # D_{i−1}, in the sampler's own storage
    difference = None  # D_{i−1} − D_{i−2}
    bend = None  # the last step's g: its d2 = −bend_scale·bend (the order check's second test)
    bend_scale, bend_in_s = 0.0, False
    u_prev = u_before = math.nan  # σ̃_{i−1}, σ̃_{i−2}
    owned = False  # x is the caller's until the first step makes a new one
    denoised = None
    zero, one = x.new_zeros(()), x.new_ones(())  # θ's bounds, made once per run
    for i, sigma, sigma_next in steps(levels, disable):
        denoised = None  # the last model value (copied into the history) is freed before the model runs
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next in (sigma, 0.0):  # the final denoise, or a zero-length step that keeps the history
            x = denoised if sigma_next == 0.0 else x
            continue
        if companion is not None:  # ε_i and its miss, from x_i before x moves
            companion.observe(x, denoised, sigma)
        share, kappa = (1.0, one) if companion is None else (EVEN, one)  # λ, and κ for the companion
        weight = 1.0 - sigma_next / sigma
        # x_{i+1} = x + weight·(D_i − x) + weight·(T1 + T2); in place once x is ours and D_i is not x
        if owned and denoised.untyped_storage().data_ptr() != x.untyped_storage().data_ptr():
            x = x.lerp_(denoised, weight)
        else:
            x, owned = torch.lerp(x, denoised, weight), True
        u, u_next = scaled[i], scaled[i + 1]
        records = order > 1 and recorded[i]  # D_i enters the history (and the corrections)
        if records and previous is None:
            previous, u_prev = denoised.clone(), u
        elif records:
            in_s = (from_noise and u > S_ABOVE) or math.isinf(u_prev) or (difference is not None and math.isinf(u_before))
            if in_s:  # nodes in s = 1/σ̃ (s = 0 at σ = 1)
                v, v_next, v_prev, v_before = 1.0 / u, 1.0 / u_next, 1.0 / u_prev, 1.0 / u_before
            else:
                v, v_next, v_prev, v_before = u, u_next, u_prev, u_before
            c1, c2 = _basis_averages(v, v_next, v_prev, in_s)
            new_difference = torch.sub(denoised, previous, out=previous)  # D_i − D_{i−1}, over D_{i−1}
            t1 = c1 / (v - v_prev)  # T1 = t1·(D_i − D_{i−1})
            if math.isinf(u_prev):
                # the step from σ = 1 took D constant over [0, s_i]; the trapezoid's half of (D_i − D_{i−1}) over
                # it, carried to σ_{i+1} (σ_{i+1}·(s_i − 0)/2 = weight·t), makes that step third-order accurate
                t1 += 0.5 * (v - v_prev) / (v_next - v)
            if difference is None or not (order >= 3 and limit > 0.0 or check is not None):
                x.add_(new_difference, alpha=weight * t1 * share)
            else:
                # d2 = p·(D_i − D_{i−1}) − q·(D_{i−1} − D_{i−2}) = −q·g with g = (D_{i−1} − D_{i−2}) − (p/q)·(D_i − D_{i−1}),
                # formed element by element, so ‖T2‖ = c_2·q·‖g‖ does not cancel the way inner products would
                q = 1.0 / ((v_prev - v_before) * (v - v_before))
                ratio = (v_prev - v_before) / (v - v_prev)  # p/q = 1/r
                g = difference.sub_(new_difference, alpha=ratio)
                moved, missed = _norms(new_difference), _norms(g)
                if check is not None:
                    # ρ1 = ‖D_i − D_{i−1} − r·(D_{i−1} − D_{i−2})‖/‖D_i − D_{i−1}‖ = r·‖g‖/‖D_i − D_{i−1}‖ (the line's miss)
                    rho = torch.addcdiv(zero, missed, moved, value=1.0 / ratio)
                    if bend is not None and bend_in_s == in_s:
                        # ρ2 = the parabola's miss over the line's: D_i − P2(v_i) = −r·g + (v − v_{i−1})(v − v_{i−2})·b_s·bend,
                        # formed over the last bend (no latent); a curved but smooth path misses with the line only
                        # = k·(bend − (r/k)·g), k = (v − v_{i−1})(v − v_{i−2})·b_s: one pass, the factor into the norm
                        k = (v - v_prev) * (v - v_before) * bend_scale
                        curved = bend.sub_(g, alpha=1.0 / (ratio * k))
                        rho = torch.fmin(rho, torch.addcdiv(zero, _norms(curved), missed, value=ratio * abs(k)))
                    # κ = clamp((1.5·check − ρ)/(0.5·check), 0, 1), ρ = min(ρ1, ρ2); fmin/fmax drop the NaN of 0/0
                    kappa = torch.fmax(torch.fmin((CHECK_SPAN * check - rho) / ((CHECK_SPAN - 1.0) * check), one), zero)
                    kappa = kappa if kappa.dtype == x.dtype else kappa.to(x.dtype)
                    if companion is not None:  # λ from the line's miss r·‖g‖ against the companion's
                        share = companion.share(torch.mul(missed, 1.0 / ratio), x.dtype)
                    applied = kappa if companion is None else kappa * share
                    x.addcmul_(new_difference, applied, value=weight * t1)
                else:
                    x.add_(new_difference, alpha=weight * t1)
                if order >= 3 and limit > 0.0:
                    # θ = min(1, limit·|t1|·‖D_i − D_{i−1}‖ / (c_2·q·‖g‖)) per image; 0/0 and x/0 give 1 (fmin
                    # drops NaN); two small-tensor ops, as at batch 1 each costs about as much as a latent pass
                    theta = torch.fmin(torch.addcdiv(zero, moved, missed, value=limit * abs(t1) / abs(c2 * q)), one)
                    theta = theta if theta.dtype == x.dtype else theta.to(x.dtype)
                    x.addcmul_(g, theta * applied if check is not None else theta, value=-weight * c2 * q)
            if check is not None and difference is not None:  # g kept as the next bend, D_i into the old bend
                g, bend_scale, bend_in_s = difference, 1.0 / ((v_prev - v_before) * (v - v_before)), in_s
                previous = denoised.clone() if bend is None else bend.copy_(denoised)
                bend, difference = g, new_difference
                u_before = u_prev
            elif keeps_difference:  # D_i into the storage the old difference leaves
                previous = denoised.clone() if difference is None else difference.copy_(denoised)
                difference = new_difference
                u_before = u_prev
            else:
                previous = new_difference.copy_(denoised)
            u_prev = u
        if companion is not None:
            companion.correct(x, sigma_next - sigma, share, kappa)
    return x
