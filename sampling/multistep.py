"""PLMS with heavy-ball (HB) and Nesterov (NT) momentum, and the generalized heavy ball (GHVB)
(arXiv 2307.11118; docs/multistep.md).

All three integrate the probability-flow ODE dx/dσ = ε(x, σ) with ε = (x − D)/σ, which is the ODE
for VE latents and the flow velocity for flow-matching latents alike, so they take ``model_family``
only to check the schedule. The step to σ = 0 is the final denoise x = D(x; σ_{n−1})
(docs/conventions.md#the-last-step).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import torch

from .common import check_sigmas, combine, denoise, heavy_ball, steps
from .params import Param, beta_param, defaults, order_param, validate_params

# Adams–Bashforth coefficients with fixed (equal-step) weights, newest direction first.
AB_COEFFS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}

MAX_ORDER = 4

PLMS_HB_PARAMS: tuple[Param, ...] = (
    order_param(4, "PLMS"),
    beta_param(0.8),
)
PLMS_NT_PARAMS: tuple[Param, ...] = (
    order_param(3, "PLMS"),
    beta_param(0.6),
)
GHVB_PARAMS: tuple[Param, ...] = (
    order_param(3, "GHVB"),
    beta_param(0.5, 'Order k with beta b is the paper\'s "GHVB (k-1)+b", e.g. order 3, beta 0.5 = GHVB 2.5.'),
)
_PLMS_HB = defaults(PLMS_HB_PARAMS)
_PLMS_NT = defaults(PLMS_NT_PARAMS)
_GHVB = defaults(GHVB_PARAMS)


def ghvb_coeffs(order: int, beta: float) -> tuple[float, ...]:
    """GHVB weights on the newest ``order`` velocities, already divided by β (docs/multistep.md#ghvb-coefficients).

    At β = 1 they equal :data:`AB_COEFFS`; their sum is always 1 (consistency).
    """
    b = beta
    if order == 1:
        bracket = (b,)
    elif order == 2:
        bracket = ((2 + b) / 2, -(2 - b) / 2)
    elif order == 3:
        bracket = ((18 + 5 * b) / 12, -(24 - 8 * b) / 12, (6 - b) / 12)
    elif order == 4:
        bracket = ((46 + 9 * b) / 24, -(78 - 19 * b) / 24, (42 - 5 * b) / 24, -(10 - b) / 24)
    else:
        raise ValueError(f"order={order!r} is out of range: expected 1, 2, 3 or 4")
    return tuple(c / b for c in bracket)


def fractional_order(r: float) -> dict[str, float]:
    """The paper's one-number naming as keyword arguments: order r ∈ (0, 4] means k = ⌈r⌉ and
    β = r − ⌊r⌋ (β = 1 for whole r), so ``sample_ghvb(..., **fractional_order(2.5))`` is "GHVB 2.5"
    (order 3, β = 0.5) and ``sample_plms_hb(..., **fractional_order(3.9))`` is "HB 3.9"
    (docs/multistep.md#fractional-order)."""
    value = float(r)
    if not math.isfinite(value) or not 0 < value <= MAX_ORDER:
        raise ValueError(f"fractional order {r!r} is out of range: expected (0, 4]")
    if value.is_integer():
        return {"order": int(value), "beta": 1.0}
    return {"order": math.ceil(value), "beta": value - math.floor(value)}


def _plms(model, x, sigmas, extra_args, callback, disable, *, params, order, beta, nesterov, model_family):
    """The PLMS loop of :func:`sample_plms_hb` (``nesterov=False``) and :func:`sample_plms_nt`.

    ε_j = (x_j − D_j)/σ_j is kept as the difference x_j − D_j and the scalar 1/σ_j, which the AB
    weights absorb: one pass less per step.
    """
    checked = validate_params(params, {"order": order, "beta": beta})
    order, beta = checked["order"], checked["beta"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    differences: deque[torch.Tensor] = deque()
    inv_sigmas: deque[float] = deque()
    velocity = None
    for i, sigma, sigma_next in steps(levels, disable):
        denoised = None  # a zero-length step's model value is freed before the model makes the next
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next in (sigma, 0.0):  # the final denoise, or a zero-length step: the history stays
            x = denoised if sigma_next == 0.0 else x
            continue
        if len(differences) == order:  # the oldest is freed before the newest is made
            differences.pop()
            inv_sigmas.pop()
        differences.appendleft(torch.sub(x, denoised))
        denoised = None  # x − D holds all the step needs: D is freed before the new x is made
        inv_sigmas.appendleft(1.0 / sigma)
        weights = [c * s for c, s in zip(AB_COEFFS[len(differences)], inv_sigmas, strict=True)]  # p_i = Σ w·(x − D)
        h = sigma_next - sigma
        if velocity is None or not nesterov:  # v ← (1 − β)·v + β·p
            velocity = heavy_ball(velocity, differences, weights, beta)
            x = torch.add(x, velocity, alpha=h)
        else:  # Nesterov: x ← x + h·((1 − β)·v + β·p), written into p's storage
            direction = combine(differences, weights)
            velocity.lerp_(direction, beta)
            x = torch.add(x, direction, alpha=h * beta, out=direction).add_(velocity, alpha=h * (1.0 - beta))
    return x


@torch.no_grad()
def sample_plms_hb(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    order: int = _PLMS_HB["order"],
    beta: float = _PLMS_HB["beta"],
    model_family: str = "ve",
) -> torch.Tensor:
    """PLMS (fixed-coefficient Adams–Bashforth) of order k with Polyak heavy-ball momentum
    (docs/multistep.md#plms-hb), h_i = σ_{i+1} − σ_i:

        p_i = AB_k(ε_i, …, ε_{i−k+1}),  v_i = (1 − β)·v_{i−1} + β·p_i (v_0 = p_0),  x_{i+1} = x_i + h_i·v_i

    β = 1 is plain PLMS-k; "HB 3.9" is ``**fractional_order(3.9)``.
    """
    return _plms(model, x, sigmas, extra_args, callback, disable, params=PLMS_HB_PARAMS, order=order, beta=beta,
                 nesterov=False, model_family=model_family)


@torch.no_grad()
def sample_plms_nt(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    order: int = _PLMS_NT["order"],
    beta: float = _PLMS_NT["beta"],
    model_family: str = "ve",
) -> torch.Tensor:
    """PLMS of order k with Nesterov momentum (docs/multistep.md#plms-nt): v_i as for HB, and the
    step looks ahead with the newest direction:

        p_i = AB_k(ε_i, …),  v_i = (1 − β)·v_{i−1} + β·p_i (v_0 = p_0),  x_{i+1} = x_i + h_i·((1 − β)·v_i + β·p_i)

    β = 1 is plain PLMS-k.
    """
    return _plms(model, x, sigmas, extra_args, callback, disable, params=PLMS_NT_PARAMS, order=order, beta=beta,
                 nesterov=True, model_family=model_family)


@torch.no_grad()
def sample_ghvb(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    order: int = _GHVB["order"],
    beta: float = _GHVB["beta"],
    model_family: str = "ve",
) -> torch.Tensor:
    """Generalized heavy ball of order k (docs/multistep.md#ghvb): momentum on ε itself, then a
    k-step combination of the velocities with β-dependent weights:

        v_i = (1 − β)·v_{i−1} + β·ε_i (v_0 = ε_0),  x_{i+1} = x_i + h_i·Σ_j c_j(β)·v_{i−j} / β

    (:func:`ghvb_coeffs`). Order k for every β; β = 1 is PLMS-k; k = 1 is heavy ball on Euler (DDIM
    with momentum). "GHVB 2.5" is ``**fractional_order(2.5)``.
    """
    checked = validate_params(GHVB_PARAMS, {"order": order, "beta": beta})
    order, beta = checked["order"], checked["beta"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    velocities: deque[torch.Tensor] = deque(maxlen=order)
    for i, sigma, sigma_next in steps(levels, disable):
        denoised = None  # a zero-length step's model value is freed before the model makes the next
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next in (sigma, 0.0):  # the final denoise, or a zero-length step: the history stays
            x = denoised if sigma_next == 0.0 else x
            continue
        if order == 1 and velocities:
            # v ← (1 − β)·v + (β/σ)·(x − D) in v's own storage: at k = 1 the oldest velocity is the newest,
            # which the update reads, so ε never becomes a latent of its own
            velocity = velocities.popleft().mul_(1.0 - beta)
            velocities.appendleft(velocity.add_(x, alpha=beta / sigma).sub_(denoised, alpha=beta / sigma))
            denoised = None
        else:
            # ε into the oldest velocity's storage once k are kept: the history stays k latents
            oldest = velocities.pop() if len(velocities) == order else None
            eps = torch.sub(x, denoised, out=oldest).mul_(1.0 / sigma)
            denoised = None  # ε holds all the step needs: D is freed before the velocity and the new x are made
            if velocities:
                eps = torch.lerp(velocities[0], eps, beta, out=eps)
            velocities.appendleft(eps)
        x = combine(velocities, ghvb_coeffs(len(velocities), beta), sigma_next - sigma, base=x)
    return x
