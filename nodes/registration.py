"""Our samplers in ComfyUI's stock KSampler / KSamplerAdvanced / KSamplerSelect lists
(docs/hosts.md#stock-sampler-lists).

For every registry sampler: ``comfy.k_diffusion.sampling.sample_ms_<name>`` is set to its host
function and ``ms_<name>`` appended *in place* to ``comfy.samplers.KSampler.SAMPLERS`` (the same list
object as ``comfy.samplers.SAMPLER_NAMES``, which KSamplerSelect reads; should another pack have
rebound one of them, both lists get the name). Idempotent; never reloads a module, rebinds or
reorders a list, or overwrites an attribute that another pack set (that name is skipped, with a
warning).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType

from ..sampling import SAMPLER_SPECS, SamplerSpec
from . import naming
from .host import host_sampler

log = logging.getLogger(__name__)


@dataclass
class RegistrationReport:
    """What :func:`register_stock_samplers` did, name by name."""

    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _stock_lists(samplers_module: ModuleType) -> list[list]:
    """The distinct list objects that hold the stock sampler names."""
    lists: list[list] = []
    for candidate in (getattr(getattr(samplers_module, "KSampler", None), "SAMPLERS", None),
                      getattr(samplers_module, "SAMPLER_NAMES", None)):
        if isinstance(candidate, list) and not any(candidate is seen for seen in lists):
            lists.append(candidate)
    return lists


def register_stock_samplers(
    k_sampling: ModuleType | None = None,
    samplers_module: ModuleType | None = None,
    specs: Iterable[SamplerSpec] | None = None,
) -> RegistrationReport:
    """Register every sampler (default: the whole registry) in ComfyUI's stock lists.

    ``k_sampling`` / ``samplers_module`` default to ``comfy.k_diffusion.sampling`` /
    ``comfy.samplers`` (imported here, i.e. only inside ComfyUI).
    """
    if k_sampling is None:
        import comfy.k_diffusion.sampling as k_sampling
    if samplers_module is None:
        import comfy.samplers as samplers_module
    lists = _stock_lists(samplers_module)
    if not lists:
        raise RuntimeError("comfy.samplers.KSampler.SAMPLERS is not a list: cannot register our samplers")
    report = RegistrationReport()
    for spec in SAMPLER_SPECS.values() if specs is None else specs:
        name = naming.stock_name(spec.name)
        attr = "sample_" + name
        existing = getattr(k_sampling, attr, None)
        if existing is not None and getattr(existing, naming.MARKER_ATTR, None) != spec.name:
            log.warning("Momentum Samplers: %s is already defined by another pack; not registering %s", attr, name)
            report.skipped.append(name)
            continue
        if existing is None and any(name in names for names in lists):
            log.warning("Momentum Samplers: %r is already in the sampler list (another pack); skipping it", name)
            report.skipped.append(name)
            continue
        if existing is None:
            setattr(k_sampling, attr, host_sampler(spec))
        missing = [names for names in lists if name not in names]
        for names in missing:
            names.append(name)
        (report.added if existing is None else report.already).append(name)
    return report
