"""Adaptive Blend: Adaptive Order and GHVB stepped side by side, mixed per image by which of the two
predicted the model's new value better (docs/adaptive.md#adaptive-blend).

The two are multistep methods from different families. Adaptive Order takes the data prediction D as a
polynomial in σ̃ = σ/α; GHVB takes the noise prediction ε = (x − D)/σ as a polynomial in the step index,
with momentum. Their first-order step is the same (DDIM, i.e. Euler), so each step is that step plus a
per-image mix of the two higher-order corrections:

    x_{i+1} = Euler_i + λ·A_i + (1 − λ)·B_i,    λ = m_ε⁴ / (m_D⁴ + m_ε⁴)

where m_D is the miss of Adaptive Order's line through the last two D's against the new D, and
m_ε = σ_i·‖ε_i − 2ε_{i−1} + ε_{i−2}‖ the miss of GHVB's equal-step line through the last two ε's against
the new ε, in the same units (σ·ε is the D that ε implies). Which family integrates a model more
accurately varies with the model, the guidance and the schedule; how well each just predicted the model
is measured on the path itself and costs no model call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import torch

from .adaptive import ADAPTIVE_ORDER_PARAMS, EVEN, _multistep_in_scaled_sigma, _norms
from .multistep import ghvb_coeffs
from .params import Param, beta_param, defaults, order_param, validate_params

ADAPTIVE_BLEND_PARAMS: tuple[Param, ...] = (
    order_param(3, "Adaptive Blend", highest=3),
    beta_param(0.7, "Only the noise-form half (GHVB) has momentum."),
    ADAPTIVE_ORDER_PARAMS[2],
)
_ADAPTIVE_BLEND = defaults(ADAPTIVE_BLEND_PARAMS)
#: Adaptive Order's stability limit on its third-order term, at its default.
LIMIT = ADAPTIVE_ORDER_PARAMS[1].default
#: The exponent of the misses in λ: the better predictor takes most of the weight without a hard switch.
SHARPNESS = 4.0
#: Velocities kept: three for the ε's of the miss, whatever the order.
KEPT = 3


class NoiseFormCompanion:
    """GHVB of order k with momentum β, as a correction to the loop's first-order step, and the miss
    of its equal-step line through ε_{i−1}, ε_{i−2} against ε_i.

    The velocities v_j = (1 − β)·v_{j−1} + β·ε_j (v_0 = ε_0) are its only history; the past ε's are read
    back from them, ε_j = (v_j − (1 − β)·v_{j−1})/β (with v_{−1} = v_0), so the miss costs no latent."""

    def __init__(self, order: int, beta: float) -> None:
        self.order, self.beta = order, beta
        self.velocities: deque[torch.Tensor] = deque()
        self.miss: torch.Tensor | None = None

    def observe(self, x: torch.Tensor, denoised: torch.Tensor, sigma: float) -> None:
        """ε_i = (x_i − D_i)/σ_i into the velocities, and m_ε = σ_i·‖ε_i − 2ε_{i−1} + ε_{i−2}‖ per image.

        ε_i is never a latent of its own: it is added as x_i/σ_i − D_i/σ_i, to the miss formed in the oldest
        velocity's storage and then to the new velocity, which takes that storage over."""
        b, v, scale = self.beta, self.velocities, 1.0 / sigma
        self.miss = None
        if not v:
            v.appendleft(torch.sub(x, denoised).mul_(scale))
            return
        storage = v.pop() if len(v) == KEPT else None
        if len(v) >= 2:
            older = storage if storage is not None else v[1]
            # ε_i − 2ε_{i−1} + ε_{i−2} = ε_i − (2/β)·v_{i−1} + ((3 − 2β)/β)·v_{i−2} − ((1 − β)/β)·v_{i−3}
            bent = torch.mul(older, -(1.0 - b) / b, out=storage)
            bent.add_(v[1], alpha=(3.0 - 2.0 * b) / b).add_(v[0], alpha=-2.0 / b)
            bent.add_(x, alpha=scale).sub_(denoised, alpha=scale)
            self.miss = _norms(bent).mul_(sigma)
            storage = bent
        # v_i = (1 − β)·v_{i−1} + β·ε_i
        velocity = torch.mul(v[0], 1.0 - b, out=storage)
        v.appendleft(velocity.add_(x, alpha=b * scale).sub_(denoised, alpha=b * scale))

    def share(self, miss_d: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | float:
        """λ = 1/(1 + (m_D/m_ε)⁴) per image: 1 where only the data form predicted D_i, 0 where only this one
        did, ½ where both did equally (0/0 included) or before this one has three ε's."""
        if self.miss is None:
            return EVEN
        lam = torch.reciprocal(torch.div(miss_d, self.miss).pow_(SHARPNESS).add_(1.0)).nan_to_num_(EVEN)
        return lam if lam.dtype == dtype else lam.to(dtype)

    def correct(self, x: torch.Tensor, h: float, share: torch.Tensor | float, kappa: torch.Tensor) -> None:
        """x += h·(1 − λ)·κ·(Σ_j c_j(β)·v_{i−j} − ε_i) in place: GHVB's step less the Euler step x already took."""
        b, v = self.beta, self.velocities
        n = min(self.order, len(v))
        weights = list(ghvb_coeffs(n, b))
        # ε_i = (v_i − (1 − β)·v_{i−1})/β, ε_0 = v_0
        if len(v) > 1:
            weights[0] -= 1.0 / b
            if n > 1:
                weights[1] += (1.0 - b) / b
            else:
                weights.append((1.0 - b) / b)
        else:
            weights[0] -= 1.0
        scale = kappa * (1.0 - share)
        scale = scale if scale.dtype == x.dtype else scale.to(x.dtype)
        for w, velocity in zip(weights, v, strict=False):  # into x term by term: no latent of its own
            x.addcmul_(velocity, scale, value=h * w)


@torch.no_grad()
def sample_adaptive_blend(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    order: int = _ADAPTIVE_BLEND["order"],
    beta: float = _ADAPTIVE_BLEND["beta"],
    check: float = _ADAPTIVE_BLEND["check"],
    model_family: str = "ve",
) -> torch.Tensor:
    """Adaptive Blend (docs/adaptive.md#adaptive-blend). With Euler_i = (σ_{i+1}/σ_i)·x_i + (1 − σ_{i+1}/σ_i)·D_i:

        A_i = (1 − σ_{i+1}/σ_i)·κ·(T1 + θ·T2)                  Adaptive Order's correction (σ̃ polynomial of D)
        B_i = (σ_{i+1} − σ_i)·κ·(Σ_j c_j(β)·v_{i−j} − ε_i)      GHVB's correction (ε = (x − D)/σ, momentum β)
        λ = m_ε⁴/(m_D⁴ + m_ε⁴),   x_{i+1} = Euler_i + λ·A_i + (1 − λ)·B_i

    per image, with κ Adaptive Order's order check (:func:`sample_adaptive_order`, its stability limit
    at its default) shared by both corrections, m_D the miss of its line through D_{i−1}, D_{i−2} against
    D_i, and m_ε = σ_i·‖ε_i − 2ε_{i−1} + ε_{i−2}‖ GHVB's (:class:`NoiseFormCompanion`). λ = ½ until both
    misses exist. Order 1 or check 0 is Euler. Memory: Adaptive Order's three latents of history and
    three velocities.
    """
    values = validate_params(ADAPTIVE_BLEND_PARAMS, {"order": order, "beta": beta, "check": check})
    order = values["order"] if values["check"] > 0.0 else 1
    return _multistep_in_scaled_sigma(model, x, sigmas, extra_args, callback, disable, order, LIMIT,
                                      values["check"], model_family,
                                      NoiseFormCompanion(order, values["beta"]) if order > 1 else None)
