"""Momentum and splitting diffusion samplers as k-diffusion-style functions (pure torch, no host).

``SAMPLERS`` maps each stable sampler name to its ``sample_*`` function; ``SAMPLER_SPECS`` holds the
same samplers with their declarative parameter tables, which both host adapters read. Every
sampler takes ``model_family`` ("ve", the default, or "flow"), which the host adapter resolves.
"""

from .adaptive import sample_adaptive_3m, sample_adaptive_order
from .ams import sample_ams
from .blend import sample_adaptive_blend
from .common import MODEL_FAMILIES, ModelOutputError, alpha, half_log_snr
from .dpmsolver import sample_dpmpp_2m_hb
from .multistep import fractional_order, sample_ghvb, sample_plms_hb, sample_plms_nt
from .params import Param, SamplerSpec, validate_params
from .registry import SAMPLER_SPECS, register, samplers
from .splitting import (
    sample_split_bao,
    sample_split_baoab,
    sample_split_oba,
    sample_split_obab,
    sample_splitting,
)
from .unipc import sample_unipc_hb

SAMPLERS = samplers()

__all__ = [
    "MODEL_FAMILIES",
    "SAMPLERS",
    "SAMPLER_SPECS",
    "ModelOutputError",
    "Param",
    "SamplerSpec",
    "alpha",
    "fractional_order",
    "half_log_snr",
    "register",
    "sample_adaptive_3m",
    "sample_adaptive_blend",
    "sample_adaptive_order",
    "sample_ams",
    "sample_dpmpp_2m_hb",
    "sample_ghvb",
    "sample_plms_hb",
    "sample_plms_nt",
    "sample_split_bao",
    "sample_split_baoab",
    "sample_split_oba",
    "sample_split_obab",
    "sample_splitting",
    "sample_unipc_hb",
    "validate_params",
]
