"""PLMS with heavy-ball (HB) and Nesterov (NT) momentum, and the generalized heavy ball (GHVB)
(arXiv 2307.11118; spec/samplers.md §1 and §2).

All three integrate the probability-flow ODE dx/dσ = ε(x, σ) with ε = (x − D)/σ, which is the ODE
for VE latents and the flow velocity for flow-matching latents alike, so they need no model family.

The step to σ = 0 is the final denoise x = D(x; σ_{n−1}) — what Euler's step there computes up to
rounding, what DPM-Solver++ (spec §3) and ComfyUI's ipndm do — rather than a multistep extrapolation
of ε = (x − D)/σ at the smallest σ, where it is least reliable. Every sampler of the pack ends this
way, so inpainting's kept region lands exactly on the original latent.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence

import torch

from .common import Run
from .params import Param, beta_param, order_param, validate_params

# Adams–Bashforth coefficients with fixed (equal-step) weights, newest direction first (§1 table).
AB_COEFFS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}

MAX_ORDER = 4


def ghvb_coeffs(order: int, beta: float) -> tuple[float, ...]:
    """GHVB weights on the newest ``order`` velocities, already divided by β (§2 table).

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
    (spec/samplers.md §2)."""
    value = float(r)
    if not math.isfinite(value) or not 0 < value <= MAX_ORDER:
        raise ValueError(f"fractional order {r!r} is out of range: expected (0, 4]")
    if value.is_integer():
        return {"order": int(value), "beta": 1.0}
    return {"order": math.ceil(value), "beta": value - math.floor(value)}


def _combine(history: Sequence[torch.Tensor], coeffs: Sequence[float], scale: float, base: torch.Tensor | None = None) -> torch.Tensor:
    """base + scale·Σ_j coeffs[j]·history[j] (history newest first) in a new tensor, one pass per term."""
    newest, *older = history
    if base is None:
        out = newest * (scale * coeffs[0])
    else:
        out = torch.add(base, newest, alpha=scale * coeffs[0])
    for c, h in zip(coeffs[1:], older, strict=True):
        out.add_(h, alpha=scale * c)
    return out


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


def heavy_ball(velocity: torch.Tensor | None, tensors: Sequence[torch.Tensor], weights: Sequence[float], beta: float) -> torch.Tensor:
    """v ← (1 − β)·v + β·Σ_k w_k·T_k accumulated in place into v (the sampler's own tensor, never a
    model output), so the combination never becomes a latent of its own; v = Σ_k w_k·T_k in a new
    tensor on the first step, which is not damped (spec §1: v_0 = p_0)."""
    if velocity is None:
        return _combine(tensors, weights, 1.0)
    velocity.mul_(1.0 - beta)
    for t, w in zip(tensors, weights, strict=True):
        velocity.add_(t, alpha=beta * w)
    return velocity


def _plms_momentum(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None,
    callback: Callable | None,
    disable: bool | None,
    order: int,
    beta: float,
    nesterov: bool,
    model_family: str | None,
) -> torch.Tensor:
    params = PLMS_NT_PARAMS if nesterov else PLMS_HB_PARAMS
    k, b = validate_params(params, {"order": order, "beta": beta}).values()
    run = Run(model, x, sigmas, extra_args, callback, model_family)
    # ε_j = (x_j − D_j)/σ_j kept as the difference x_j − D_j and the scalar 1/σ_j, which the
    # combination folds into its weights: one pass less per step.
    differences: deque[tuple[torch.Tensor, float]] = deque()
    velocity = None
    for i in run.steps(disable):
        denoised = run.evaluate(i, x)
        if denoised is None:  # nothing moves; the history is unchanged
            continue
        sigma, sigma_next = run.sigmas[i], run.sigmas[i + 1]
        if sigma_next == 0.0:  # the final denoise, as the hosts' samplers end (module docstring)
            x = denoised
            continue
        if len(differences) == k:
            differences.pop()  # freed before the newest is made: the history stays k latents
        differences.appendleft((torch.sub(x, denoised), 1.0 / sigma))
        weights = [c * inv_sigma for c, (_, inv_sigma) in zip(AB_COEFFS[len(differences)], differences, strict=True)]
        h = sigma_next - sigma
        tensors = [d for d, _ in differences]
        if velocity is None or not nesterov:  # v ← (1 − β)·v + β·p
            velocity = heavy_ball(velocity, tensors, weights, b)
            x = torch.add(x, velocity, alpha=h)
        else:  # Nesterov: x ← x + h·((1 − β)·v + β·p), written into p's storage
            direction = _combine(tensors, weights, 1.0)
            velocity.lerp_(direction, b)
            x = torch.add(x, direction, alpha=h * b, out=direction).add_(velocity, alpha=h * (1.0 - b))
    return x


@torch.no_grad()
def sample_plms_hb(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    order: int = PLMS_HB_PARAMS[0].default,
    beta: float = PLMS_HB_PARAMS[1].default,
    model_family: str | None = None,
) -> torch.Tensor:
    """PLMS (fixed-coefficient Adams–Bashforth) of order k with Polyak heavy-ball momentum
    (spec/samplers.md §1): p_i = AB_k(ε history), v_i = (1 − β)·v_{i−1} + β·p_i, x_{i+1} = x_i + h_i·v_i.

    β = 1 is plain PLMS-k; "HB 3.9" is ``**fractional_order(3.9)``.
    """
    return _plms_momentum(model, x, sigmas, extra_args, callback, disable, order, beta, False, model_family)


@torch.no_grad()
def sample_plms_nt(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    order: int = PLMS_NT_PARAMS[0].default,
    beta: float = PLMS_NT_PARAMS[1].default,
    model_family: str | None = None,
) -> torch.Tensor:
    """PLMS of order k with Nesterov momentum (spec/samplers.md §1): v_i as for HB, and the step
    uses u_i = (1 − β)·v_i + β·p_i: x_{i+1} = x_i + h_i·u_i. β = 1 is plain PLMS-k."""
    return _plms_momentum(model, x, sigmas, extra_args, callback, disable, order, beta, True, model_family)


@torch.no_grad()
def sample_ghvb(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    order: int = GHVB_PARAMS[0].default,
    beta: float = GHVB_PARAMS[1].default,
    model_family: str | None = None,
) -> torch.Tensor:
    """Generalized heavy ball of order k (spec/samplers.md §2): v_i = (1 − β)·v_{i−1} + β·ε_i,
    x_{i+1} = x_i + h_i·Σ_j c_j(β)·v_{i−j} / β with the §2 table's β-dependent weights.

    Order k for every β; β = 1 is PLMS-k; k = 1 is heavy ball on Euler (DDIM with momentum).
    "GHVB 2.5" is ``**fractional_order(2.5)``.
    """
    k, b = validate_params(GHVB_PARAMS, {"order": order, "beta": beta}).values()
    run = Run(model, x, sigmas, extra_args, callback, model_family)
    velocities: deque[torch.Tensor] = deque(maxlen=k)
    for i in run.steps(disable):
        denoised = run.evaluate(i, x)
        if denoised is None:  # nothing moves; the history is unchanged
            continue
        sigma, sigma_next = run.sigmas[i], run.sigmas[i + 1]
        if sigma_next == 0.0:  # the final denoise, as the hosts' samplers end (module docstring)
            x = denoised
            continue
        eps = torch.sub(x, denoised).mul_(1.0 / sigma)
        if velocities:
            newest = velocities[0]
            # the oldest velocity's storage takes the newest: the history stays k latents
            reuse = velocities.pop() if len(velocities) == k else None
            eps = torch.lerp(newest, eps, b, out=reuse) if reuse is not None else torch.lerp(newest, eps, b)
        velocities.appendleft(eps)
        x = _combine(velocities, ghvb_coeffs(len(velocities), b), sigma_next - sigma, base=x)
    return x
