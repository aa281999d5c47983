"""The registry: stable sampler names → functions and their parameter tables.

Names are lower_snake_case and permanent (saved workflows, API prompts and PNG infotext refer to
them); hosts add their own prefix. Add new samplers at the end; never rename or remove one.
"""

from __future__ import annotations

from collections.abc import Callable

from .adaptive import ADAPTIVE_3M_PARAMS, ADAPTIVE_ORDER_PARAMS, sample_adaptive_3m, sample_adaptive_order
from .ams import AMS_PARAMS, sample_ams
from .blend import ADAPTIVE_BLEND_PARAMS, sample_adaptive_blend
from .dpmsolver import DPMPP_2M_HB_PARAMS, sample_dpmpp_2m_hb
from .multistep import GHVB_PARAMS, PLMS_HB_PARAMS, PLMS_NT_PARAMS, sample_ghvb, sample_plms_hb, sample_plms_nt
from .params import SamplerSpec
from .sde_multistep import SDE_3M_PARAMS, sample_sde_3m
from .splitting import (
    SPLIT_PARAMS,
    SYMMETRIC_SPLIT_PARAMS,
    sample_split_bao,
    sample_split_baoab,
    sample_split_oba,
    sample_split_obab,
)
from .unipc import UNIPC_HB_PARAMS, sample_unipc_hb

SAMPLER_SPECS: dict[str, SamplerSpec] = {}


def register(spec: SamplerSpec) -> SamplerSpec:
    """Add a sampler to the registry (import time only); a second spec under one name is an error."""
    if spec.name in SAMPLER_SPECS:
        raise ValueError(f"sampler name {spec.name!r} is already registered")
    SAMPLER_SPECS[spec.name] = spec
    return spec


def samplers() -> dict[str, Callable]:
    """Name → function, in registration order."""
    return {name: spec.fn for name, spec in SAMPLER_SPECS.items()}


register(SamplerSpec(
    name="plms_hb",
    label="PLMS HB",
    fn=sample_plms_hb,
    params=PLMS_HB_PARAMS,
    family="momentum",
    description="PLMS (Adams–Bashforth) with heavy-ball momentum: removes divergence artifacts at high CFG / few steps.",
))
register(SamplerSpec(
    name="plms_nt",
    label="PLMS NT",
    fn=sample_plms_nt,
    params=PLMS_NT_PARAMS,
    family="momentum",
    description="PLMS with Nesterov momentum: like PLMS HB, with a look-ahead step.",
))
register(SamplerSpec(
    name="ghvb",
    label="GHVB",
    fn=sample_ghvb,
    params=GHVB_PARAMS,
    family="momentum",
    description="Generalized heavy ball: high-order multistep with momentum; beta trades accuracy for stability.",
))
register(SamplerSpec(
    name="dpmpp_2m_hb",
    label="DPM++ 2M HB",
    fn=sample_dpmpp_2m_hb,
    params=DPMPP_2M_HB_PARAMS,
    family="momentum",
    description="DPM-Solver++(2M) with heavy-ball momentum on its data prediction.",
))
register(SamplerSpec(
    name="ams",
    label="AMS",
    fn=sample_ams,
    params=AMS_PARAMS,
    family="ams",
    nfe_per_step=2,
    stochastic=True,
    description=(
        "Adaptive momentum sampling: a Langevin corrector with self-tuning momentum before each Euler "
        "ancestral step (2 model calls per step; 1 with corrector strength 0)."
    ),
))
# The four splitting schemes share one parameter table but for λ's default, so a host can show them as
# one family.
register(SamplerSpec(
    name="split_baoab",
    label="Splitting BAOAB",
    fn=sample_split_baoab,
    params=SYMMETRIC_SPLIT_PARAMS,
    family="splitting",
    stochastic=True,
    description=(
        "Stochastic sampler with a hidden momentum (BAOAB splitting): Euler ancestral's cost, closer "
        "to the true spread of images than Euler ancestral; SDE 3M is closer still."
    ),
))
register(SamplerSpec(
    name="split_obab",
    label="Splitting OBAB",
    fn=sample_split_obab,
    params=SYMMETRIC_SPLIT_PARAMS,
    family="splitting",
    stochastic=True,
    description=(
        "Momentum splitting sampler, OBAB order: about as close to the target distribution as BAOAB, "
        "slightly over-noisy where the image barely changes; BAOAB keeps the noise exact."
    ),
))
register(SamplerSpec(
    name="split_oba",
    label="Splitting OBA",
    fn=sample_split_oba,
    params=SPLIT_PARAMS,
    family="splitting",
    stochastic=True,
    description="Momentum splitting sampler, OBA order (the paper's favourite): biased at high momentum; BAOAB is preferred.",
))
register(SamplerSpec(
    name="split_bao",
    label="Splitting BAO",
    fn=sample_split_bao,
    params=SPLIT_PARAMS,
    family="splitting",
    stochastic=True,
    description="Momentum splitting sampler, BAO order: biased at high momentum; BAOAB is preferred.",
))
register(SamplerSpec(
    name="unipc_hb",
    label="UniPC HB",
    fn=sample_unipc_hb,
    params=UNIPC_HB_PARAMS,
    family="momentum",
    description=(
        "UniPC (order-2 predictor + corrector, bh2) with heavy-ball momentum on both, each with its own "
        "velocity: one model call per step."
    ),
))
register(SamplerSpec(
    name="adaptive_3m",
    label="Adaptive 3M",
    fn=sample_adaptive_3m,
    params=ADAPTIVE_3M_PARAMS,
    family="multistep",
    description=(
        "Third-order multistep in sigma with a per-image stability limit on its highest-order term; "
        "Adaptive Order without the order check. One model call per step."
    ),
))
register(SamplerSpec(
    name="sde_3m",
    label="SDE 3M",
    fn=sample_sde_3m,
    params=SDE_3M_PARAMS,
    family="sde",
    stochastic=True,
    description=(
        "Stochastic third-order multistep: the noise part of each step solved exactly, the image part "
        "from the last three predictions; the reverse SDE's noise rate while the image is mostly noise, "
        "a low one after. Closest to the target distribution of the stochastic samplers measured at "
        "CFG 1. One model call per step."
    ),
))
register(SamplerSpec(
    name="adaptive_order",
    label="Adaptive Order",
    fn=sample_adaptive_order,
    params=ADAPTIVE_ORDER_PARAMS,
    family="multistep",
    description=(
        "Adaptive 3M whose order each image picks at each step from what the model just returned: third "
        "order where the model's outputs follow a smooth path, down to Euler where they do not (high CFG on "
        "real networks). One model call per step."
    ),
))
register(SamplerSpec(
    name="adaptive_blend",
    label="Adaptive Blend",
    fn=sample_adaptive_blend,
    params=ADAPTIVE_BLEND_PARAMS,
    family="multistep",
    description=(
        "Adaptive Order and GHVB stepped side by side and mixed per image, at each step, by which of the two "
        "predicted the model's new output better; the order check of Adaptive Order on both. One model call "
        "per step."
    ),
))
