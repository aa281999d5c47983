"""The pack's public names in ComfyUI: a permanent contract of saved workflows and API prompts
(docs/hosts.md#frozen-names).

Never rename or remove anything produced here; add new samplers by registering them in
``sampling/registry.py`` and the names follow.
"""

from __future__ import annotations

#: Prefix of every name we add to ComfyUI's stock sampler lists (``ms_ghvb``, ``ms_plms_hb``…).
STOCK_PREFIX = "ms_"

#: Node-id prefixes: one SAMPLER node and one MODEL-options node per registry sampler.
SAMPLER_NODE_PREFIX = "MomentumSampler_"
OPTIONS_NODE_PREFIX = "MomentumSamplerOptions_"

#: Node categories (under ComfyUI's own ``sampling/custom_sampling/``).
SAMPLER_CATEGORY = "sampling/custom_sampling/samplers/momentum"
OPTIONS_CATEGORY = "sampling/custom_sampling/momentum_options"

#: Key under ``model_options`` where the options nodes store per-sampler parameters:
#: ``model_options[OPTIONS_KEY][<registry name>] = {param: value}``.
OPTIONS_KEY = "momentum_samplers"

#: Attribute set on every function we put on ``comfy.k_diffusion.sampling`` (value: registry name).
MARKER_ATTR = "_momentum_samplers_name"


def stock_name(sampler: str) -> str:
    """The name in KSampler's ``sampler_name`` list for registry sampler ``sampler``."""
    return STOCK_PREFIX + sampler


def sampler_node_id(sampler: str) -> str:
    """Node id of the SAMPLER node (for SamplerCustom / SamplerCustomAdvanced) of ``sampler``."""
    return SAMPLER_NODE_PREFIX + sampler


def options_node_id(sampler: str) -> str:
    """Node id of the MODEL-options node (for the stock KSampler) of ``sampler``."""
    return OPTIONS_NODE_PREFIX + sampler
