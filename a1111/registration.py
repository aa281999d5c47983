"""Our samplers in the host's "Sampling method" list (docs/hosts.md#a1111-forge-and-reforge).

Each entry is ``SamplerData(label, constructor, aliases, options)`` whose constructor builds our
``KDiffusionSampler`` subclass around our own function, never a name looked up in the host's
``k_diffusion`` (Forge and reForge ship their own). Forge's ``add_sampler`` is used where it exists;
otherwise the entry is appended to ``sd_samplers.all_samplers`` (in place: other modules hold that
list) and the host's map and visible lists are rebuilt. A second call (the host re-executes scripts on
"Reload UI") replaces our entries in place, so nothing is listed twice and the new code is used.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ..sampling import SAMPLER_SPECS
from ..sampling.params import SamplerSpec
from .naming import sampler_aliases, sampler_options
from .sampler import make_sampler_class

log = logging.getLogger("momentum_samplers")


class SamplerConstructor:
    """``SamplerData.constructor``: ``model → sampler``. Its ``momentum_sampler`` attribute (the
    registry name) marks the entry as ours across script reloads."""

    def __init__(self, sampler_class: type, name: str) -> None:
        self.sampler_class = sampler_class
        self.momentum_sampler = name

    def __call__(self, model: Any) -> Any:
        return self.sampler_class(self.momentum_sampler, model)

    def __repr__(self) -> str:
        return f"<momentum sampler {self.momentum_sampler}>"


def is_ours(data: Any) -> bool:
    """Whether a host ``SamplerData`` entry was registered by this pack (by any load of it)."""
    return getattr(data.constructor, "momentum_sampler", None) is not None


def taken_names(all_samplers: list) -> set[str]:
    """Lower-cased labels and aliases of the host's other samplers (what ``samplers_map`` holds)."""
    names = set()
    for data in all_samplers:
        if not is_ours(data):
            names.add(data.name.lower())
            names.update(alias.lower() for alias in data.aliases)
    return names


def register_samplers(specs: Iterable[SamplerSpec] | None = None) -> list[str]:
    """Register ``specs`` (default: the whole registry) with the running host; idempotent.

    A label already used by another sampler is skipped with a warning, and an alias already used is
    dropped, so an existing host or extension sampler is never shadowed. Returns the labels registered.
    """
    from modules import sd_samplers, sd_samplers_common, sd_samplers_kdiffusion

    sampler_class = make_sampler_class(sd_samplers_kdiffusion.KDiffusionSampler)
    add_sampler = getattr(sd_samplers, "add_sampler", None)  # Forge only
    registered: list[str] = []
    rebuild = False
    for spec in SAMPLER_SPECS.values() if specs is None else specs:
        taken = taken_names(sd_samplers.all_samplers)
        if spec.label.lower() in taken:
            log.warning("Momentum Samplers: %r is already a sampler of this host; %s not added", spec.label, spec.name)
            continue
        aliases = [a for a in sampler_aliases(spec) if a.lower() not in taken]
        for alias in set(sampler_aliases(spec)) - set(aliases):
            log.warning("Momentum Samplers: alias %r of %r is taken; dropped", alias, spec.label)
        data = sd_samplers_common.SamplerData(
            spec.label, SamplerConstructor(sampler_class, spec.name), aliases, sampler_options(spec)
        )
        index = next((i for i, d in enumerate(sd_samplers.all_samplers) if d.name == spec.label), None)
        if index is not None:  # ours, from an earlier load of the script
            sd_samplers.all_samplers[index] = data
            rebuild = True
        elif add_sampler is not None:
            add_sampler(data)
        else:
            sd_samplers.all_samplers.append(data)
            rebuild = True
        registered.append(spec.label)
    if rebuild:
        sd_samplers.all_samplers_map = {x.name: x for x in sd_samplers.all_samplers}
        sd_samplers.set_samplers()
    cache = getattr(sd_samplers, "get_sampler_and_scheduler", None)
    if hasattr(cache, "cache_clear"):
        cache.cache_clear()  # a lookup made before this call would otherwise stay cached
    return registered
