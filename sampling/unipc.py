"""UniPC (predictor UniP-2 + corrector UniC, variant bh2) with heavy-ball momentum
(UniPC: Zhao et al., arXiv 2302.04867; momentum: arXiv 2307.11118; docs/unipc.md)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .common import alpha, check_sigmas, data_weight, denoise, half_log_snr, heavy_ball, report, step_ratio, steps
from .params import Param, beta_param, defaults, validate_params

UNIPC_HB_PARAMS: tuple[Param, ...] = (beta_param(0.7),)
_UNIPC_HB = defaults(UNIPC_HB_PARAMS)

_SERIES_BELOW = 0.05  # |z| under which φ_k(z) comes from its Taylor series (no cancellation)


def phi_ratios(h: float) -> tuple[float, float]:
    """(b_1, b_2) = (1!·φ_2(−h)/φ_1(−h), 2!·φ_3(−h)/φ_1(−h)), UniC's right-hand side for B(h) = e^h − 1
    (bh2), where φ_1(z) = (e^z − 1)/z, φ_{k+1}(z) = (φ_k(z) − 1/k!)/z; they tend to (1/2, 1/3) as h → 0
    and to (1, 1) as h → ∞."""
    if math.isinf(h):
        return 1.0, 1.0
    z = -h
    if abs(z) < _SERIES_BELOW:
        # φ_k(z) = Σ_n z^n / (n + k)!, eight terms: truncation below 1e-17 here
        phi1, phi2, phi3 = (sum(z**n / math.factorial(n + k) for n in range(8)) for k in (1, 2, 3))
    else:
        phi1 = math.expm1(z) / z
        phi2 = (phi1 - 1.0) / z
        phi3 = (phi2 - 0.5) / z
    return phi2 / phi1, 2.0 * phi3 / phi1


def unic_weights(h: float, q: float | None) -> tuple[float, float]:
    """(a, c) of the corrector combination C = D_i + a·(D_i − D_{i−1}) + c·(D̃_{i+1} − D_i).

    ``q`` = h_i / h_{i−1} (0 when the previous step came from λ = −inf) for UniC-2, whose weights
    solve [[1, 1], [r, 1]]·(ρ_1, ρ_2) = (b_1, b_2) with r = −1/q; ``None`` for UniC-1, which UniPC
    takes as the trapezoidal (a, c) = (0, 1/2).
    """
    if q is None:
        return 0.0, 0.5
    b1, b2 = phi_ratios(h)
    rho1 = q * (b1 - b2) / (1.0 + q)  # (b_1 − b_2)/(1 − r)
    return q * rho1, b1 - rho1  # ρ_1·D1 with D1 = (D_{i−1} − D_i)/r = q·(D_i − D_{i−1}); ρ_2 = b_1 − ρ_1


@torch.no_grad()
def sample_unipc_hb(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    beta: float = _UNIPC_HB["beta"],
    model_family: str = "ve",
) -> torch.Tensor:
    """Multistep UniPC of order 2 with B(h) = e^h − 1 ("bh2"; taken at −h in the data-prediction form,
    where it equals the step's own weight e^{−h} − 1), in λ = log(α/σ), with heavy-ball momentum on the
    predictor and on the corrector, each with its own velocity (docs/unipc.md).

    With h_i = λ_{i+1} − λ_i, q_i = h_i/h_{i−1}, D_i the model value at step i and D̃_{i+1} the next
    step's model value at the predicted x̃_{i+1}:

    - UniP-2 (ρ = 1/2): P_i = D_i + (q_i/2)·(D_i − D_{i−1}); P_0 = D_0 (UniP-1, the warm-up);
      v^p_i = (1 − β)·v^p_{i−1} + β·P_i, v^p_0 = P_0;
      x̃_{i+1} = (σ_{i+1}/σ_i)·x_i − α_{i+1}·(e^{−h_i} − 1)·v^p_i.
    - UniC, reusing D̃_{i+1} (no extra model call): C_i = D_i + a_i·(D_i − D_{i−1}) + c_i·(D̃_{i+1} − D_i),
      UniC-2 weights from [[1, 1], [r_i, 1]]·(ρ_1, ρ_2) = (b_1, b_2), r_i = −1/q_i,
      b_1 = φ_2(−h_i)/φ_1(−h_i), b_2 = 2·φ_3(−h_i)/φ_1(−h_i): a_i = q_i·ρ_1, c_i = ρ_2
      (:func:`unic_weights`); UniC-1 on the first step: a_0 = 0, c_0 = 1/2;
      v^c_i = (1 − β)·v^c_{i−1} + β·C_i, v^c_0 = C_0;
      x_{i+1} = (σ_{i+1}/σ_i)·x_i − α_{i+1}·(e^{−h_i} − 1)·v^c_i
              = x̃_{i+1} − α_{i+1}·(e^{−h_i} − 1)·(v^c_i − v^p_i).
    - D_{i+1} = D̃_{i+1}: the corrected x_{i+1} is not evaluated again (UniPC's reuse).

    The corrector's velocity never overwrites the predictor's (the two EMAs are separate states), so
    β = 1 is exactly UniPC-bh2 of order 2. The last step has no corrector (no model call follows);
    the step to σ = 0 is the final denoise x = D(x̃; σ_{n−1}). A repeated σ moves nothing and reuses
    the last model value. α = 1 for VE latents; α = 1 − σ for flow latents, where the step from σ = 1
    (λ = −inf) is DDIM and the next one has q = 0.
    """
    beta = validate_params(UNIPC_HB_PARAMS, {"beta": beta})["beta"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    lambdas = [half_log_snr(s, model_family) for s in levels]
    denoised = old_denoised = None  # D_i, D_{i−1}
    velocity_p = velocity_c = None
    h_last = h_before = math.nan  # h_{i−1}, h_{i−2}
    step_weight = 0.0  # α_{i+1}·(1 − e^{−h_i}) of the last predictor step
    pending = False  # the last step moved x by the predictor: the model value at x̃ corrects it
    for i, sigma, sigma_next in steps(levels, disable):
        if pending or denoised is None:
            new = denoise(model, x, sigmas, levels, i, extra_args)  # D̃_i at the predicted x̃_i (x at σ = 0)
            if pending:  # UniC for the step i−1 → i
                q = None if old_denoised is None else step_ratio(h_last, h_before)
                a, c = unic_weights(h_last, q)
                terms, weights = [denoised, new], [1.0 + a - c, c]
                if a != 0.0:
                    terms.append(old_denoised)
                    weights.append(-a)
                velocity_c = heavy_ball(velocity_c, terms, weights, beta)
                del terms
                old_denoised = None  # D_{i−2} is done with: freed before the corrected x is made
                x = torch.add(x, velocity_c, alpha=step_weight).sub_(velocity_p, alpha=step_weight)
                pending = False
            old_denoised, denoised = denoised, new
            h_before = h_last
        report(callback, x, sigmas, i, denoised)
        if sigma_next in (sigma, 0.0):  # the final denoise (no corrector), or a zero-length step
            x = denoised if sigma_next == 0.0 else x
            continue
        h = lambdas[i + 1] - lambdas[i]
        half_q = 0.0 if old_denoised is None else 0.5 * step_ratio(h, h_before)
        if half_q == 0.0:
            velocity_p = heavy_ball(velocity_p, [denoised], [1.0], beta)
        else:
            velocity_p = heavy_ball(velocity_p, [denoised, old_denoised], [1.0 + half_q, -half_q], beta)
        step_weight = data_weight(h, alpha(sigma_next, model_family))
        x = (x * (sigma_next / sigma)).add_(velocity_p, alpha=step_weight)
        h_last = h
        pending = i + 1 < len(levels) - 1  # a model call at σ_{i+1} follows: it corrects this step
    return x
