"""What every sampler shares: the checked schedule, the guarded model call with the host callback, and
the maths several update rules use (α, λ, predicted noise, transport, heavy ball, step ratio).
See docs/conventions.md.

Nothing here imports a host. Latents come in the VE form x = x0 + σ·ε, or, for flow-matching models
(which the host adapter names with ``model_family="flow"``), x = (1 − σ)·x0 + σ·ε; the signal scale
α(σ) tells the two apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

try:  # every host ships tqdm; the maths must not depend on it
    from tqdm.auto import trange
except ImportError:  # pragma: no cover - exercised only without tqdm

    def trange(n: int, disable: bool | None = None) -> range:
        return range(n)


MODEL_FAMILIES = ("ve", "flow")


class ModelOutputError(FloatingPointError):
    """The model returned NaN or infinity: raised instead of returning a silent NaN image."""


# --- the schedule and the model call ----------------------------------------------------------------


def check_sigmas(sigmas: torch.Tensor, model_family: str) -> list[float]:
    """The noise schedule as Python floats (one device sync per run), after checking it and the family.

    Accepted: 1-D, finite, ≥ 0, non-increasing (repeats allowed), any length ≥ 1, any last value;
    flow schedules must stay within [0, 1].
    """
    if model_family not in MODEL_FAMILIES:
        raise ValueError(f"model_family={model_family!r} is not valid: expected 've' or 'flow'")
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1:
        raise ValueError("sigmas must be a 1-D tensor of noise levels")
    levels = [float(s) for s in sigmas.detach().cpu().tolist()]
    if not all(math.isfinite(s) for s in levels):
        raise ValueError("sigmas contains NaN or infinity")
    if any(s < 0 for s in levels):
        raise ValueError("sigmas must be >= 0")
    for i in range(len(levels) - 1):
        if levels[i + 1] > levels[i]:
            raise ValueError(
                f"sigmas must be non-increasing: sigmas[{i + 1}]={levels[i + 1]:g} > sigmas[{i}]={levels[i]:g}"
            )
    if model_family == "flow" and levels and levels[0] > 1.0:
        raise ValueError(f"flow-matching sigmas must lie in [0, 1], got sigmas[0]={levels[0]:g}")
    return levels


def steps(levels: Sequence[float], disable: bool | None = None) -> Iterator[tuple[int, float, float]]:
    """(i, σ_i, σ_{i+1}) for every step of the schedule, behind a progress bar unless ``disable``."""
    for i in trange(len(levels) - 1, disable=disable):
        yield i, levels[i], levels[i + 1]


def report(callback: Callable[[dict], Any] | None, x: torch.Tensor, sigmas: torch.Tensor, i: int,
           denoised: torch.Tensor) -> torch.Tensor:
    """Step i to the host callback in k-diffusion's dict form; returns ``denoised``."""
    if callback is not None:
        callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
    return denoised


def denoise(
    model: Callable[..., torch.Tensor],
    x: torch.Tensor,
    sigmas: torch.Tensor,
    levels: Sequence[float],
    i: int,
    extra_args: dict,
    callback: Callable[[dict], Any] | None = None,
) -> torch.Tensor:
    """D(x; σ_i), reported to ``callback`` as step i when one is given.

    The model is called as k-diffusion calls it, ``model(x, σ_i·1, **extra_args)`` with ``extra_args``
    untouched, except at σ_i = 0, where D(x; 0) = x and the model is not called. NaN or infinity in
    its output raises :class:`ModelOutputError` naming the step.
    """
    sigma = levels[i]
    if sigma == 0.0:
        return report(callback, x, sigmas, i, x)
    denoised = model(x, x.new_full([x.shape[0]], sigma), **extra_args)
    # One reduction pass: NaN and ±inf all make the float32 sum non-finite.
    if not torch.isfinite(denoised.sum(dtype=torch.float32)):
        raise ModelOutputError(
            f"the model returned NaN or infinity at step {i + 1} of {len(levels) - 1} "
            f"(sigma={sigma:.6g}); check the model, VAE precision (try fp32) and the settings"
        )
    return report(callback, x, sigmas, i, denoised)


# --- the model family --------------------------------------------------------------------------------


def alpha(sigma: float, family: str) -> float:
    """Signal scale α(σ): 1 for VE latents, 1 − σ for flow-matching latents."""
    return 1.0 - sigma if family == "flow" else 1.0


def half_log_snr(sigma: float, family: str) -> float:
    """λ = log(α/σ), with λ = +inf at σ = 0 and −inf where α = 0 (flow at σ = 1)."""
    if sigma == 0.0:
        return math.inf
    a = alpha(sigma, family)
    if a <= 0.0:
        return -math.inf
    return math.log(a) - math.log(sigma)


def scaled_sigma(sigma: float, family: str) -> float:
    """σ̃ = σ/α, the noise level of y = x/α: σ itself for VE latents, σ/(1 − σ) for flow latents
    (inf at σ = 1)."""
    a = alpha(sigma, family)
    return math.inf if a <= 0.0 else sigma / a


def sigma_ratio(sigma: float, sigma_next: float, family: str) -> float:
    """r = σ̃_{i+1}/σ̃_i with σ̃ = σ/α: 1 for a repeated σ, 0 into σ = 0 or out of α = 0 (flow at σ = 1)."""
    if sigma_next == sigma:
        return 1.0
    if sigma_next == 0.0:
        return 0.0
    if family == "flow":
        if sigma >= 1.0:
            return 0.0
        return (sigma_next * (1.0 - sigma)) / ((1.0 - sigma_next) * sigma)
    return sigma_next / sigma


# --- update pieces -----------------------------------------------------------------------------------


def predicted_noise(x: torch.Tensor, denoised: torch.Tensor, a: float, sigma: float) -> torch.Tensor:
    """ε̂ = (x − α·D)/σ in a new tensor: the VE ``to_d``; for flow latents not the velocity."""
    return torch.sub(x, denoised, alpha=a).div_(sigma)


def transport(eps: torch.Tensor, denoised: torch.Tensor, a_next: float, sigma_next: float) -> torch.Tensor:
    """x_{i+1} = α_{i+1}·D + σ_{i+1}·ε, written into ``eps``'s storage."""
    return eps.mul_(sigma_next).add_(denoised, alpha=a_next)


def step_ratio(h: float, h_prev: float) -> float:
    """h/h_prev for multistep exponential integrators (DPM-Solver++ 2M, UniPC): 0 when there is no
    usable previous step (none yet, NaN, or one from λ = −inf, flow at σ = 1), which makes their
    correction first order."""
    return h / h_prev if math.isfinite(h_prev) else 0.0


def data_weight(h: float, a_next: float) -> float:
    """α_{i+1}·(1 − e^{−h}): the data prediction's weight in the exponential-integrator step
    x_{i+1} = (σ_{i+1}/σ_i)·x_i + α_{i+1}·(1 − e^{−h})·D, h = λ_{i+1} − λ_i."""
    return -a_next * math.expm1(-h)


def combine(tensors: Sequence[torch.Tensor], weights: Sequence[float], scale: float = 1.0,
            base: torch.Tensor | None = None) -> torch.Tensor:
    """base + scale·Σ_k weights[k]·tensors[k] in a new tensor, one pass per term."""
    first, *rest = tensors
    if base is None:
        out = first * (scale * weights[0])
    else:
        out = torch.add(base, first, alpha=scale * weights[0])
    for w, t in zip(weights[1:], rest, strict=True):
        out.add_(t, alpha=scale * w)
    return out


def heavy_ball(velocity: torch.Tensor | None, tensors: Sequence[torch.Tensor], weights: Sequence[float],
               beta: float) -> torch.Tensor:
    """v ← (1 − β)·v + β·Σ_k w_k·T_k, accumulated in place into v (the sampler's own tensor, never a
    model output), so the combination never becomes a latent of its own; v = Σ_k w_k·T_k in a new
    tensor on the first step, which is not damped (v_0 = p_0)."""
    if velocity is None:
        return combine(tensors, weights)
    velocity.mul_(1.0 - beta)
    for t, w in zip(tensors, weights, strict=True):
        velocity.add_(t, alpha=beta * w)
    return velocity
