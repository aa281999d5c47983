"""The host sampler class: the host's ``KDiffusionSampler`` running one of our functions with its
parameters from the settings (docs/hosts.md#a1111-forge-and-reforge).

Built on whatever ``KDiffusionSampler`` the running host has (A1111, Forge and reForge differ), at
registration time, so this module imports no host code at import.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

from ..sampling import SAMPLER_SPECS
from ..sampling.noise import MOMENTUM_SEED_OFFSET
from .settings import read_values, record_infotext


def detect_model_family(sampler: Any, sd_model: Any) -> str:
    """'flow' for flow-matching models, else 've' (docs/hosts.md#a1111-forge-and-reforge).

    Forge wraps every model in ``ForgeScheduleLinker(predictor)``, and its predictor's
    ``prediction_type`` is ``"const"`` for every flow model (Flux, SD3); A1111 1.10's only flow model,
    SD3, is the one with ``add_noise_to_latent``. reForge uses A1111's denoisers (VE only).
    """
    predictor = getattr(getattr(sampler, "model_wrap", None), "predictor", None)
    if predictor is not None:
        return "flow" if getattr(predictor, "prediction_type", None) == "const" else "ve"
    return "flow" if hasattr(sd_model, "add_noise_to_latent") else "ve"


def rng_noise_sampler(p: Any) -> Callable[[Any, Any], torch.Tensor]:
    """Noise from the generation's own per-image seeded generators (``p.rng``), the source the host's
    ``TorchHijack`` gives k-diffusion's ``randn_like``: used when the user turned the Brownian noise
    sampler off ("no_dpmpp_sde_batch_determinism"), so noise stays seeded per image."""
    rng = p.rng

    def noise_sampler(sigma: Any, sigma_next: Any) -> torch.Tensor:
        return rng.next()

    return noise_sampler


MOMENTUM_NOISE_KWARG = "momentum_noise_sampler"
"""The keyword through which a stochastic sampler may take its second (momentum) noise stream; passed
only where the function accepts it."""

def per_image_noise_sampler(x: torch.Tensor, seeds: list[int]) -> Callable[[Any, Any], torch.Tensor]:
    """Standard normal noise shaped like ``x``, image ``i`` drawn from its own CPU generator seeded
    with ``seeds[i]``: reproducible per seed and the same whatever the batch size."""
    generators = [torch.Generator().manual_seed(int(seed) % 2**64) for seed in seeds]

    def noise_sampler(sigma: Any, sigma_next: Any) -> torch.Tensor:
        noise = [torch.randn(x.shape[1:], generator=g, dtype=torch.float32) for g in generators]
        return torch.stack(noise).to(device=x.device, dtype=x.dtype)

    return noise_sampler


def batch_seeds(p: Any) -> list[int]:
    """The seeds of the images of the current batch (as the host's ``create_noise_sampler`` takes them)."""
    return list(p.all_seeds[p.iteration * p.batch_size:(p.iteration + 1) * p.batch_size])


def make_sampler_class(base: type) -> type:
    """A subclass of the host's ``KDiffusionSampler`` for our samplers."""

    class MomentumKDiffusionSampler(base):
        """Runs ``SAMPLER_SPECS[name].fn`` with the current settings as keyword arguments, the model
        family detected per host, and the parameters recorded in the infotext."""

        def __init__(self, name: str, sd_model: Any) -> None:
            self.momentum_spec = SAMPLER_SPECS[name]
            super().__init__(self.momentum_spec.fn, sd_model)

        def initialize(self, p: Any) -> dict:
            from modules import shared

            had_eta = self.eta_infotext_field in p.extra_generation_params
            kwargs = super().initialize(p)
            values = read_values(self.momentum_spec, shared.opts)
            if "eta" in values and not had_eta:
                # the host wrote its own "Eta for k-diffusion samplers" for our `eta`; ours wins
                p.extra_generation_params.pop(self.eta_infotext_field, None)
            record_infotext(p, self.momentum_spec, values)
            kwargs.update(values)
            kwargs["model_family"] = detect_model_family(self, shared.sd_model)
            self.momentum_kwargs = kwargs  # the host adds noise_sampler= to this very dict
            return kwargs

        def create_noise_sampler(self, x: torch.Tensor, sigmas: torch.Tensor, p: Any) -> Any:
            noise_sampler = super().create_noise_sampler(x, sigmas, p)
            if MOMENTUM_NOISE_KWARG in inspect.signature(self.func).parameters:
                seeds = [seed + MOMENTUM_SEED_OFFSET for seed in batch_seeds(p)]
                self.momentum_kwargs[MOMENTUM_NOISE_KWARG] = per_image_noise_sampler(x, seeds)
            return noise_sampler if noise_sampler is not None else rng_noise_sampler(p)

    return MomentumKDiffusionSampler
