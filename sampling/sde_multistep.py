"""SDE 3M: a multistep exponential integrator of the reverse SDE with noise rate η, its
Ornstein–Uhlenbeck part solved exactly (docs/splitting.md#sde-3m).

The noise rate is 1 while σ̃ ≥ 1 and 0.05 below (``eta``, ``eta_low``): the reverse SDE forgets
how far the host's start latent (pure noise scaled by √(1 + σ²)) is from the true noisy data, which
the low rate alone does not; below σ̃ = 1 the steps are long and multistep values taken on a noisy
path over-disperse the samples, which a low rate avoids.

In y = x/α and λ = −log σ̃ (σ̃ = σ/α, so flow latents are VE latents in y), the reverse SDE family

    dy = (1 + η)·(D(y; σ̃) − y) dλ + σ̃·√(2η) dW

has the probability-flow ODE at η = 0 and the reverse SDE of the forward process at η = 1; with an
exact denoiser every η has the data law as its end point, while a guided denoiser gives each η its own
law. Over a step λ → λ' = λ + h the linear part is exact:

    y' = e^{−(1+η)h}·y + (1 + η)·∫_0^h e^{−(1+η)(h−s)}·D(λ + s) ds + σ̃'·√(1 − e^{−2ηh})·ξ

D(λ + s) is replaced by the polynomial in σ̃ through the last ``order`` model values and integrated
exactly (Gauss–Legendre quadrature in λ, far below rounding), as SA-Solver and DPM-Solver++ SDE
do with polynomials in λ. A polynomial in σ̃ stays accurate over the long final steps of "normal" and
"simple" schedules, where one in λ overshoots (the reason Adaptive 3M uses σ̃).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from .common import alpha, check_sigmas, denoise, predicted_noise, scaled_sigma, steps, transport
from .noise import NoiseSampler, noise_streams, renoise_
from .params import Param, defaults, order_param, s_noise_param, validate_params

SDE_3M_PARAMS: tuple[Param, ...] = (
    Param(
        name="eta",
        kind="float",
        default=1.0,
        label="eta",
        tooltip=(
            "Noise rate while the image is mostly noise (sigma/alpha at least 1). 1 = the reverse SDE, the "
            "noise rate of Euler ancestral and of the stock SDE samplers at eta 1: it forgets how far the "
            "start noise is from the true noisy image. 0 = no fresh noise there."
        ),
        min=0.0,
        max=1.0,
        step=0.05,
    ),
    Param(
        name="eta_low",
        kind="float",
        default=0.05,
        label="eta low",
        tooltip=(
            "Noise rate once the image has more signal than noise (sigma/alpha below 1). Low by default: "
            "there the steps are long and extrapolating predictions taken on a noisy path adds spread. "
            "Equal to eta = one noise rate throughout (1 and order 1 = Euler ancestral)."
        ),
        min=0.0,
        max=1.0,
        step=0.05,
    ),
    order_param(3, "SDE 3M", highest=3),
    s_noise_param(),
)
_SDE_3M = defaults(SDE_3M_PARAMS)


def _gauss_legendre(n: int) -> tuple[list[float], list[float]]:
    """Nodes and weights of n-point Gauss–Legendre quadrature on [0, 1] (Golub–Welsch)."""
    k = torch.arange(1, n, dtype=torch.float64)
    off = k / torch.sqrt(4.0 * k * k - 1.0)
    jacobi = torch.diag(off, 1) + torch.diag(off, -1)
    nodes, vectors = torch.linalg.eigh(jacobi)
    weights = 2.0 * vectors[0] ** 2
    return [0.5 * (float(t) + 1.0) for t in nodes], [0.5 * float(w) for w in weights]


_NODES, _WEIGHTS = _gauss_legendre(12)
# The last step extrapolates D to σ̃ = 0 through the last two values only: a third value, taken on a
# noisy path, over-dispersed flow samples (docs/splitting.md#sde-3m)
FINAL_ORDER = 2


def sde_step_weights(s: float, s_next: float, nodes: Sequence[float], eta: float) -> list[float]:
    """Weights w_j with Σ_j w_j·D_j = (1 + η)·∫_0^h e^{−(1+η)(h−t)}·P(σ̃(λ + t)) dt, h = log(s/s_next),
    P the Lagrange polynomial in σ̃ through (nodes[j], D_j), σ̃(λ + t) = s·e^{−t}.

    One node gives the first-order weight 1 − e^{−(1+η)h}; the weights always sum to it."""
    h = math.log(s / s_next)
    rate = 1.0 + eta
    total = -math.expm1(-rate * h)
    if len(nodes) == 1:
        return [total]
    out = [0.0] * len(nodes)
    for t, w in zip(_NODES, _WEIGHTS, strict=True):
        # rate·h·e^{−rate·h·(1−t)} dt on t ∈ [0, 1]
        kernel = w * rate * h * math.exp(-rate * h * (1.0 - t))
        v = s * math.exp(-h * t)
        for j, nj in enumerate(nodes):
            basis = 1.0
            for m, nm in enumerate(nodes):
                if m != j:
                    basis *= (v - nm) / (nj - nm)
            out[j] += kernel * basis
    # the quadrature of the constant is exact to rounding; make the sum exactly the first-order weight
    out[0] += total - sum(out)
    return out


def final_value(history: Sequence[tuple[float, torch.Tensor]]) -> torch.Tensor:
    """P(0) for the Lagrange polynomial P in σ̃² through (σ̃_j², D_j), in a new tensor: the denoiser's
    limit at σ̃ = 0 along the path. Near the data a denoiser varies like σ̃² (a Gaussian's is
    μ + (y − μ)·v/(v + σ̃²)), so the extrapolation is in σ̃²; one in σ̃ overshoots and over-disperses."""
    nodes = [node * node for node, _ in history]
    out = None
    for j, (_, value) in enumerate(history):
        basis = math.prod(nm / (nm - nodes[j]) for m, nm in enumerate(nodes) if m != j)
        out = value * basis if out is None else out.add_(value, alpha=basis)
    return out


@torch.no_grad()
def sample_sde_3m(
    model: Callable,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    extra_args: dict | None = None,
    callback: Callable | None = None,
    disable: bool | None = None,
    *,
    eta: float = _SDE_3M["eta"],
    eta_low: float = _SDE_3M["eta_low"],
    order: int = _SDE_3M["order"],
    s_noise: float = _SDE_3M["s_noise"],
    noise_sampler: NoiseSampler | None = None,
    momentum_noise_sampler: NoiseSampler | None = None,
    model_family: str = "ve",
) -> torch.Tensor:
    """Multistep exponential integrator of the reverse SDE with noise rate η (module docstring): η =
    ``eta`` on steps from σ̃_i ≥ 1, ``eta_low`` below. Per step, with ε̂ = (x − α·D)/σ,
    h = log(σ̃_i/σ̃_{i+1}) and c = e^{−ηh}:

        D̄ = D_i + Σ_j w'_j·D_{i−j}        (w'_j = w_j − (1 − e^{−(1+η)h})·[j = 0], Σ_j w'_j = 0)
        ε = c·ε̂ + s_noise·√(1 − c²)·ξ
        x_{i+1} = α_{i+1}·D̄ + σ_{i+1}·ε

    ``order`` model values (fewer on the first steps); order 1 is DPM-Solver++(1) SDE: Euler at
    η = 0, Euler ancestral at η = 1 (VE), with ``eta_low`` = ``eta``. The step to σ = 0 returns the extrapolation of the last two
    model values to σ̃ = 0, linear in σ̃² (:func:`final_value`; order 1: D). One model call per step.
    Only the position stream is drawn from; ``momentum_noise_sampler`` is accepted as the hosts pass it
    to every stochastic sampler."""
    checked = validate_params(SDE_3M_PARAMS, {"eta": eta, "eta_low": eta_low, "order": order, "s_noise": s_noise})
    eta, eta_low, order, s_noise = checked["eta"], checked["eta_low"], checked["order"], checked["s_noise"]
    levels = check_sigmas(sigmas, model_family)
    extra_args = {} if extra_args is None else extra_args
    position = noise_streams(x, extra_args, noise_sampler, momentum_noise_sampler).position
    dtype = x.dtype
    history: list[tuple[float, torch.Tensor]] = []  # (σ̃, D), newest first, finite σ̃ only

    for i, sigma, sigma_next in steps(levels, disable):
        denoised = denoise(model, x, sigmas, levels, i, extra_args, callback)
        if sigma_next == 0.0:  # the last step integrates the σ̃-polynomial down to σ̃ = 0
            s = scaled_sigma(sigma, model_family)
            history = [(s, denoised), *history][: min(order, FINAL_ORDER)] if math.isfinite(s) else []
            x = denoised if len(history) < 2 else final_value(history)
            continue
        if sigma_next == sigma:  # a repeated level: nothing to integrate
            continue
        a, a_next = alpha(sigma, model_family), alpha(sigma_next, model_family)
        s, s_next = scaled_sigma(sigma, model_family), scaled_sigma(sigma_next, model_family)
        e = predicted_noise(x, denoised, a, sigma)
        del x  # the latent lives on in ε's storage
        rate = eta if s >= 1.0 else eta_low
        if math.isfinite(s):
            history = [(s, denoised), *history][:order]
            weights = sde_step_weights(s, s_next, [node for node, _ in history], rate)
            keep = (s_next / s) ** rate
        else:  # flow at σ = 1: no signal yet, nothing to extrapolate from
            history, weights, keep = [], [], 0.0 if rate > 0.0 else 1.0
        noise = position(sigmas[i], sigmas[i + 1]) if rate > 0.0 and keep < 1.0 else None
        renoise_(e, keep, noise, s_noise)
        del noise
        # x_{i+1} = α'·D̄ + σ'·ε accumulated in ε's storage: D̄ never becomes a latent of its own
        x = transport(e, denoised, a_next, sigma_next)
        if len(weights) > 1:
            first = -math.expm1(-(1.0 + rate) * math.log(s / s_next))
            x.add_(denoised, alpha=a_next * (weights[0] - first))
            for w, (_, older) in zip(weights[1:], history[1:], strict=True):
                x.add_(older, alpha=a_next * w)
    return x.to(dtype)
