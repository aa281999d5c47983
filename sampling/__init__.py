"""Momentum and splitting diffusion samplers as k-diffusion-style functions (pure torch, no host).

``SAMPLERS`` maps each stable sampler name to its ``sample_*`` function; ``SAMPLER_SPECS`` holds the
same samplers with their declarative parameter tables, which both host adapters read.
"""

from .common import ModelOutputError, alpha, detect_family, half_log_snr
from .dpmsolver import sample_dpmpp_2m_hb
from .multistep import fractional_order, sample_ghvb, sample_plms_hb, sample_plms_nt
from .params import Param, SamplerSpec, validate_params
from .registry import SAMPLER_SPECS, register, samplers

SAMPLERS = samplers()

__all__ = [
    "SAMPLERS",
    "SAMPLER_SPECS",
    "ModelOutputError",
    "Param",
    "SamplerSpec",
    "alpha",
    "detect_family",
    "fractional_order",
    "half_log_snr",
    "register",
    "sample_dpmpp_2m_hb",
    "sample_ghvb",
    "sample_plms_hb",
    "sample_plms_nt",
    "validate_params",
]
