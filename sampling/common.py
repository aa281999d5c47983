"""Shared plumbing of every sampler: input checks, the model family (VE or flow), the model call
with its NaN/inf guard, the progress bar and the host callback (spec/samplers.md, preamble and §4).

Nothing here imports a host. Hosts hand every sampler latents in the VE form x = x0 + σ·ε, except
flow-matching models (ComfyUI's CONST model sampling, A1111's SD3, Forge's Flux/SD3), whose latents
are x = (1 − σ)·x0 + σ·ε; the signal scale α(σ) tells the two apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

try:  # every host ships tqdm; the math must not depend on it
    from tqdm.auto import trange as _trange
except ImportError:  # pragma: no cover - exercised only without tqdm
    _trange = None

MODEL_FAMILIES = ("ve", "flow")


class ModelOutputError(FloatingPointError):
    """The model returned NaN or infinity: raised instead of returning a silent NaN image."""


def detect_family(model: Any) -> str:
    """'flow' when the model says it is a flow-matching (rectified flow) model, else 've'.

    Duck-typed, with no host import: ComfyUI's samplers receive a model whose
    ``inner_model.inner_model.model_sampling`` is an instance of ``comfy.model_sampling.CONST`` for
    flow models (spec/hosts.md §2); an object may also carry ``model_family`` itself.
    """
    family = getattr(model, "model_family", None)
    if family in MODEL_FAMILIES:
        return family
    sampling = getattr(getattr(getattr(model, "inner_model", None), "inner_model", None), "model_sampling", None)
    if sampling is not None and any(cls.__name__ == "CONST" for cls in type(sampling).__mro__):
        return "flow"
    return "ve"


def resolve_family(model: Any, model_family: str | None) -> str:
    """The explicit ``model_family`` argument if given, else what :func:`detect_family` finds."""
    if model_family is None or model_family == "auto":
        return detect_family(model)
    if model_family not in MODEL_FAMILIES:
        raise ValueError(f"model_family={model_family!r} is not valid: expected 've', 'flow' or 'auto'")
    return model_family


def alpha(sigma: float, family: str) -> float:
    """Signal scale α(σ): 1 for VE-form latents, 1 − σ for flow-matching latents."""
    return 1.0 - sigma if family == "flow" else 1.0


def half_log_snr(sigma: float, family: str) -> float:
    """λ = log(α/σ), with λ = +inf at σ = 0 and −inf where α = 0 (flow at σ = 1)."""
    if sigma == 0.0:
        return math.inf
    a = alpha(sigma, family)
    if a <= 0.0:
        return -math.inf
    return math.log(a) - math.log(sigma)


def step_ratio(h: float, h_prev: float) -> float:
    """h/h_prev for multistep exponential integrators (DPM-Solver++ 2M, UniPC): 0 when there is no
    usable previous step (none yet, NaN, or one from λ = −inf, flow at σ = 1), which makes their
    correction first order."""
    return h / h_prev if math.isfinite(h_prev) else 0.0


def check_sigmas(sigmas: torch.Tensor, family: str) -> list[float]:
    """Validate a noise schedule and return it as Python floats (one device sync per run).

    Accepted: 1-D, finite, ≥ 0, non-increasing (repeats allowed), any length ≥ 1, any last value;
    flow schedules must stay within [0, 1].
    """
    if not isinstance(sigmas, torch.Tensor) or sigmas.ndim != 1:
        raise ValueError("sigmas must be a 1-D tensor of noise levels")
    values = [float(s) for s in sigmas.detach().cpu().tolist()]
    if not all(math.isfinite(s) for s in values):
        raise ValueError("sigmas contains NaN or infinity")
    if any(s < 0 for s in values):
        raise ValueError("sigmas must be >= 0")
    for i in range(len(values) - 1):
        if values[i + 1] > values[i]:
            raise ValueError(
                f"sigmas must be non-increasing: sigmas[{i + 1}]={values[i + 1]:g} > sigmas[{i}]={values[i]:g}"
            )
    if family == "flow" and values and values[0] > 1.0:
        raise ValueError(f"flow-matching sigmas must lie in [0, 1], got sigmas[0]={values[0]:g}")
    return values


class Run:
    """What every sampler loop needs: the checked schedule as floats, the model call, the callback.

    ``denoise`` calls ``model(x, sigmas[i] * s_in, **extra_args)`` exactly as k-diffusion does, with
    ``extra_args`` forwarded untouched, and raises :class:`ModelOutputError` on NaN/inf.
    """

    def __init__(
        self,
        model: Callable[..., torch.Tensor],
        x: torch.Tensor,
        sigmas: torch.Tensor,
        extra_args: dict | None,
        callback: Callable[[dict], Any] | None,
        model_family: str | None,
    ) -> None:
        self.model = model
        self.extra_args = {} if extra_args is None else extra_args
        self.callback = callback
        self.family = resolve_family(model, model_family)
        self.sigma_tensor = sigmas
        self.sigmas = check_sigmas(sigmas, self.family)
        self.s_in = x.new_ones([x.shape[0]])
        self.nfe = 0

    @property
    def n_steps(self) -> int:
        return max(len(self.sigmas) - 1, 0)

    def steps(self, disable: bool | None) -> Iterable[int]:
        """The step indices, behind a progress bar unless ``disable``."""
        if _trange is None:
            return range(self.n_steps)
        return _trange(self.n_steps, disable=disable)

    def denoise(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """D(x; σ_i), checked for NaN/inf."""
        return self.denoise_at(x, i, self.sigma_tensor[i])

    def denoise_at(self, x: torch.Tensor, i: int, sigma: torch.Tensor | float) -> torch.Tensor:
        """D(x; σ) at an arbitrary level σ, reported as step ``i`` if it fails."""
        denoised = self.model(x, sigma * self.s_in, **self.extra_args)
        self.nfe += 1
        # One reduction pass: NaN and ±inf all make the float32 sum non-finite.
        if not torch.isfinite(denoised.sum(dtype=torch.float32)):
            raise ModelOutputError(
                f"the model returned NaN or infinity at step {i + 1} of {self.n_steps} "
                f"(sigma={float(sigma):.6g}); check the model, VAE precision (try fp32) and the settings"
            )
        return denoised

    def evaluate(self, i: int, x: torch.Tensor) -> torch.Tensor | None:
        """Start step i: D(x; σ_i), reported through the callback. None when the step moves nothing:
        σ_i = 0 (no model call; reported with D = x), or a repeated σ, a zero-length step (the model is
        called all the same, as the hosts' samplers do, so every step has a preview)."""
        sigma = self.sigmas[i]
        if sigma == 0.0:
            self.report(i, x, x)
            return None
        denoised = self.denoise(x, i)
        self.report(i, x, denoised)
        return None if self.sigmas[i + 1] == sigma else denoised

    def report(self, i: int, x: torch.Tensor, denoised: torch.Tensor) -> None:
        """The host callback, once per step, in k-diffusion's dict form."""
        if self.callback is not None:
            sigma = self.sigma_tensor[i]
            self.callback({"x": x, "i": i, "sigma": sigma, "sigma_hat": sigma, "denoised": denoised})

    def alpha(self, i: int) -> float:
        return alpha(self.sigmas[i], self.family)
