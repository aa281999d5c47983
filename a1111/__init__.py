"""AUTOMATIC1111 / Forge / reForge adapter (see docs/hosts.md).

``scripts/momentum_samplers_a1111.py`` loads this folder as the package ``momentum_samplers`` and
calls :func:`install`, which registers every sampler of ``sampling.SAMPLER_SPECS`` in the host's
"Sampling method" list and every sampler parameter as a setting in "Settings → Sampler parameters".

Layout: ``naming`` (the frozen labels, aliases, option keys and infotext labels; no host import),
``settings`` (options, reading them back, infotext), ``sampler`` (the ``KDiffusionSampler`` subclass,
model-family detection, seeded noise), ``registration`` (the host's sampler list). Host modules are
imported inside functions only, so this package imports anywhere.
"""

from __future__ import annotations

from .naming import (
    INFOTEXT_PATTERN,
    OPTION_PREFIX,
    SETTINGS_CATEGORY,
    SETTINGS_SECTION,
    infotext_label,
    option_key,
    sampler_aliases,
    sampler_options,
    setting_label,
)


def install() -> list[str]:
    """Register the settings and the samplers with the running host; safe to call again (script
    reloads). Returns the labels now registered."""
    from .registration import register_samplers
    from .settings import register_settings

    register_settings()
    return register_samplers()


__all__ = [
    "INFOTEXT_PATTERN",
    "OPTION_PREFIX",
    "SETTINGS_CATEGORY",
    "SETTINGS_SECTION",
    "infotext_label",
    "install",
    "option_key",
    "sampler_aliases",
    "sampler_options",
    "setting_label",
]
