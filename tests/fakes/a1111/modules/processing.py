"""Shaped after A1111 1.10.1 ``modules/processing.py``: the parts of ``StableDiffusionProcessing``
a sampler touches, ``override_settings`` applied and restored around a run as ``process_images``
does, and the parameters line of ``create_infotext``."""

import dataclasses
from typing import Any

import torch

from modules import infotext_utils, rng, sd_samplers, shared
from modules.shared import opts


@dataclasses.dataclass
class StableDiffusionProcessing:
    sampler_name: str = "Euler"
    scheduler: str = None
    steps: int = 10
    cfg_scale: float = 7.0
    seed: int = 1
    batch_size: int = 1
    width: int = 16
    height: int = 16
    eta: float = None
    override_settings: dict = dataclasses.field(default_factory=dict)
    override_settings_restore_afterwards: bool = True
    extra_generation_params: dict = dataclasses.field(default_factory=dict)
    sampler_noise_scheduler_override: Any = None
    s_churn: float = 0.0
    s_tmin: float = 0.0
    s_tmax: float = float('inf')
    s_noise: float = 1.0
    iteration: int = 0
    sampler: Any = None

    def __post_init__(self):
        self.all_seeds = [self.seed + i for i in range(self.batch_size)]
        self.seeds = self.all_seeds
        self.rng = rng.ImageRNG((4, self.height // 8, self.width // 8), self.seeds)


def create_infotext(p):
    generation_params = {
        "Steps": p.steps,
        "Sampler": p.sampler_name,
        "CFG scale": p.cfg_scale,
        "Seed": p.all_seeds[0],
        "Size": f"{p.width}x{p.height}",
        **p.extra_generation_params,
    }
    generation_params_text = ", ".join([k if k == v else f'{k}: {infotext_utils.quote(v)}' for k, v in generation_params.items() if v is not None])
    return f"a prompt\nNegative prompt: \n{generation_params_text}".strip()


def process_images(p):
    """Apply ``override_settings`` (``opts.set(..., is_api=True)``: KeyError for an unknown key), run
    the sampler on the first noise of ``p.rng``, restore the settings; returns (samples, infotext)."""
    stored_opts = {k: opts.data[k] if k in opts.data else opts.get_default(k) for k in p.override_settings.keys() if k in opts.data}
    try:
        for k, v in p.override_settings.items():
            opts.set(k, v, is_api=True, run_callbacks=False)
        p.sampler = sd_samplers.create_sampler(p.sampler_name, shared.sd_model)
        x = p.rng.next()
        with torch.no_grad():
            samples = p.sampler.sample(p, x, conditioning=None, unconditional_conditioning=None)
        return samples, create_infotext(p)
    finally:
        if p.override_settings_restore_afterwards:
            for k, v in stored_opts.items():
                setattr(opts, k, v)
