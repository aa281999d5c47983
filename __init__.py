"""Momentum Samplers: ComfyUI entry point.

Inside ComfyUI this package registers the samplers in the stock sampler lists and exposes the nodes.
Imported anywhere else (tests, tools) it does nothing and needs no host.

ComfyUI imports ``comfy.samplers`` before it loads custom nodes, so its presence in ``sys.modules``
is how this file knows it is being loaded by ComfyUI: the host is detected by what loads the entry
file, never by probing imports (docs/hosts.md#loading). The nodes are V3 nodes returned by
``comfy_entrypoint`` (ComfyUI ≥ 0.3.48); no ``NODE_CLASS_MAPPINGS`` is exported, since that would
shadow the entry point (docs/hosts.md#v3). Relative imports only: ComfyUI has its own top-level
``nodes`` module.

``WEB_DIRECTORY`` is served by ComfyUI at ``/extensions/<this folder's name>/``; its ``docs/`` holds
a help page per node, which the front end shows (docs/hosts.md#help-pages).
"""

from __future__ import annotations

import logging
import sys

_log = logging.getLogger(__name__)

WEB_DIRECTORY = "./web"


def _loaded_by_comfyui() -> bool:
    return "comfy.samplers" in sys.modules and "comfy.k_diffusion.sampling" in sys.modules


if _loaded_by_comfyui():
    from .nodes.registration import register_stock_samplers

    try:
        _report = register_stock_samplers()
        _log.info("Momentum Samplers: added %s to the sampler lists", ", ".join(_report.added) or "nothing new")
    except Exception:  # the nodes still work without the stock-list entries
        _log.exception("Momentum Samplers: could not add the samplers to the stock sampler lists")


async def comfy_entrypoint():
    """ComfyUI's V3 entry point: the extension listing our nodes."""
    from .nodes.v3 import make_extension

    return make_extension()
