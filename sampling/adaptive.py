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

import torch

from .common import alpha, check_sigmas, denoise, scaled_sigma, steps
from .params import Param, defaults, order_param, validate_params

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


def _gram(a: torch.Tensor, b: torch.Tensor | None) -> list[tuple[float, float]]:
    """(⟨a, a⟩, ⟨a, b⟩) per image as Python floats (⟨a, b⟩ = 0 without b), summed in float32 at
    least and without a product latent; one device sync, as the model call's NaN check makes anyway."""
    a = a.flatten(1).unsqueeze(1)
    if a.dtype in (torch.float16, torch.bfloat16):
        a = a.float()
    column = a.transpose(1, 2)
    products = [torch.bmm(a, column)]
    if b is not None:
        products.append(torch.bmm(b.flatten(1).unsqueeze(1).to(a.dtype), column))
    rows = torch.cat(products, dim=1).view(a.shape[0], -1).tolist()
    return [(row[0], row[1] if len(row) > 1 else 0.0) for row in rows]


def _add_per_image(x: torch.Tensor, t: torch.Tensor, weights: list[float]) -> None:
    """x += w_b·t for image b, in place."""
    if len(set(weights)) == 1:
        x.add_(t, alpha=weights[0])
    else:
        x.addcmul_(t, torch.tensor(weights, dtype=x.dtype, device=x.device).view(-1, *([1] * (x.ndim - 1))))


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
    """Adaptive 3M (docs/adaptive.md#update-rule). With u_i = σ̃_i, D_i the model value at step i and
    the divided differences d1 = (D_i − D_{i−1})/(u_i − u_{i−1}),
    d2 = (d1 − (D_{i−1} − D_{i−2})/(u_{i−1} − u_{i−2}))/(u_i − u_{i−2}):

        T1 = c_1·d1,   T2 = θ·c_2·d2,   θ = min(1, limit·‖T1‖/‖T2‖) per image
        x_{i+1} = (σ_{i+1}/σ_i)·x_i + α_{i+1}·(1 − u_{i+1}/u_i)·(D_i + T1 + T2)

    with c_1, c_2 from :func:`exact_step_weights` (T2 = 0 before three model values exist, T1 = 0
    before two, or always below ``order`` 3 / 2). Order 1 is DDIM, i.e. Euler. The step to σ = 0 is
    the final denoise x = D_i, as the hosts' samplers end. On flow latents the step from σ = 1
    (u = inf) is DDIM and its model value starts no polynomial.
    """
    values = validate_params(ADAPTIVE_3M_PARAMS, {"order": order, "limit": limit})
    order, limit = values["order"], values["limit"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    scaled = [scaled_sigma(s, model_family) for s in levels]
    previous = None  # D_{i−1}, the last model value with a finite σ̃
    difference = None  # D_{i−1} − D_{i−2}
    difference_sq = None  # ‖D_{i−1} − D_{i−2}‖² per image, as floats
    u_prev = u_before = math.nan  # σ̃_{i−1}, σ̃_{i−2}
    for i, sigma, sigma_next in steps(levels, disable):
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next in (sigma, 0.0):  # the final denoise, or a zero-length step that keeps the history
            x = denoised if sigma_next == 0.0 else x
            continue
        u, u_next = scaled[i], scaled[i + 1]
        if math.isinf(u):  # flow from σ = 1: DDIM, x_{i+1} = σ_{i+1}·x/σ + α_{i+1}·D
            x = (x * (sigma_next / sigma)).add_(denoised, alpha=alpha(sigma_next, model_family))
            continue
        weight, c1, c2 = exact_step_weights(u, u_next, u_prev)
        step = alpha(sigma_next, model_family) * weight
        new_difference = new_difference_sq = None
        if order >= 2 and previous is not None:
            new_difference = torch.sub(denoised, previous)
            previous = None  # D_{i−1} is done with: freed before the next x is made
        x = (x * (sigma_next / sigma)).add_(denoised, alpha=step)
        if new_difference is not None:
            t1 = c1 / (u - u_prev)  # T1 = t1·(D_i − D_{i−1})
            if order >= 3:
                gram = _gram(new_difference, difference)
                new_difference_sq = [g[0] for g in gram]
            if difference_sq is not None:
                # d2 = p·(D_i − D_{i−1}) − q·(D_{i−1} − D_{i−2}); ‖T2‖ from inner products, no extra latent
                p = 1.0 / ((u - u_prev) * (u - u_before))
                q = 1.0 / ((u_prev - u_before) * (u - u_before))
                new_weights, old_weights = [], []
                for (aa, ab), bb in zip(gram, difference_sq, strict=True):
                    t1_norm = abs(t1) * math.sqrt(aa)
                    t2_norm = abs(c2) * math.sqrt(max(p * p * aa + q * q * bb - 2 * p * q * ab, 0.0))
                    theta = 1.0 if limit * t1_norm >= t2_norm else limit * t1_norm / t2_norm
                    new_weights.append(step * (t1 + theta * c2 * p))
                    old_weights.append(-step * theta * c2 * q)
                # x += step·((t1 + θ·c2·p)·(D_i − D_{i−1}) − θ·c2·q·(D_{i−1} − D_{i−2}))
                _add_per_image(x, new_difference, new_weights)
                _add_per_image(x, difference, old_weights)
            else:
                x.add_(new_difference, alpha=step * t1)
        if order >= 2:
            previous = denoised
        if order >= 3:
            difference, difference_sq = new_difference, new_difference_sq
        new_difference = None  # kept only as ``difference``
        u_before, u_prev = u_prev, u
    return x
