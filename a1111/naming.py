"""The names the A1111 family sees: sampler labels and aliases, option keys, setting labels and
infotext labels, all derived from the registry (see docs/hosts.md).

These strings are a permanent contract: option keys live in users' ``config.json`` and API calls,
infotext labels in every PNG made with our samplers. They derive from the registry's stable names
(never from the human labels, which may be reworded), so a new sampler gets its names with no change
here, and an existing one keeps them forever.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from ..sampling.params import Param, SamplerSpec

OPTION_PREFIX = "momentum_"
"""Option keys are ``momentum_<sampler>_<parameter>``, e.g. ``momentum_ghvb_beta``."""

SETTINGS_SECTION = ("sampler-params", "Sampler parameters")
"""The host's own settings section for sampler knobs (Eta, sigma churn, UniPC order, …)."""

SETTINGS_CATEGORY = "sd"
"""The settings category of that section in A1111 1.10 (``options_section(('sampler-params', …, "sd"))``)."""

INFOTEXT_PATTERN = re.compile(r"\w[\w \-/]+")
"""What A1111's infotext parser accepts as a key (``modules/infotext_utils.py`` ``re_param_code``);
a label with ``+``, ``(`` or ``:`` would be written into the PNG but never read back."""


def option_key(spec: SamplerSpec, param: Param) -> str:
    """The ``shared.opts`` key of one sampler parameter: ``momentum_<sampler>_<parameter>``."""
    return f"{OPTION_PREFIX}{spec.name}_{param.name}"


def infotext_label(spec: SamplerSpec, param: Param) -> str:
    """The key under which a PNG's parameters carry the value: ``<sampler> <parameter>``, e.g.
    ``ghvb beta: 0.5``; pasting it back maps to :func:`option_key` through ``OptionInfo(infotext=)``."""
    return f"{spec.name} {param.name}"


def setting_label(spec: SamplerSpec, param: Param) -> str:
    """The human label of the setting in Settings → Sampler parameters, e.g. ``GHVB: beta``."""
    return f"{spec.label}: {param.label}"


def sampler_aliases(spec: SamplerSpec) -> list[str]:
    """The stable aliases of the dropdown entry: the registry name, then the spec's own aliases."""
    out: list[str] = []
    for alias in (spec.name, *spec.aliases):
        if alias not in out:
            out.append(alias)
    return out


def accepts_noise_sampler(spec: SamplerSpec) -> bool:
    """Whether the sampler function takes the host's ``noise_sampler`` keyword."""
    try:
        return "noise_sampler" in inspect.signature(spec.fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


TUNED_SCHEDULE = "karras"
"""The host scheduler every sampler's defaults were tuned on: the test beds and benchmarks run SD's
Karras σ grid (ρ = 7), as the host's own DPM++ 2M does under "Schedule type: Automatic"."""


def default_schedule(spec: SamplerSpec) -> str | None:
    """The scheduler the host uses for this sampler when the user leaves "Schedule type: Automatic"
    (a name of the host's ``sd_schedulers``); a spec may name its own (``None``: the host's default,
    Uniform)."""
    return getattr(spec, "default_schedule", TUNED_SCHEDULE)


def sampler_options(spec: SamplerSpec) -> dict[str, Any]:
    """The ``SamplerData.options`` the host reads: ``scheduler``,
    the schedule "Automatic" resolves to (and that an infotext's "Schedule type" turns back into
    "Automatic"); ``second_order`` where a step costs two model calls (progress total ×2);
    ``brownian_noise`` for stochastic samplers, so the host passes a seeded, batch-size-independent
    ``noise_sampler``."""
    options: dict[str, Any] = {}
    schedule = default_schedule(spec)
    if schedule is not None:
        options["scheduler"] = schedule
    if spec.nfe_per_step >= 2:
        options["second_order"] = True
    if spec.stochastic and accepts_noise_sampler(spec):
        options["brownian_noise"] = True
    return options
