"""Sampler parameters as host settings, read back per generation and written into infotext
(see docs/hosts.md).

Every parameter of every registered sampler becomes one ``shared.opts`` option, registered at script
import (``on_ui_settings`` never runs under ``--nowebui``, so an option added there is missing from the
API and ``override_settings`` with its key fails). Each option carries an ``infotext=`` label, so a
PNG's parameters map back onto it when pasted ("Send to txt2img", PNG Info, the API's ``infotext``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from ..sampling import SAMPLER_SPECS
from ..sampling.params import Param, SamplerSpec
from .naming import SETTINGS_CATEGORY, SETTINGS_SECTION, infotext_label, option_key, setting_label

log = logging.getLogger("momentum_samplers")


def widget(param: Param, gr: Any) -> tuple[Any, dict[str, Any] | None]:
    """The Gradio component class and its arguments for one parameter: a slider over the valid
    range (an open end moved in by one step), a checkbox, or radio buttons."""
    if param.kind == "bool":
        return gr.Checkbox, None
    if param.kind == "choice":
        return gr.Radio, {"choices": list(param.choices)}
    if param.min is None or param.max is None or param.step is None:
        return gr.Number, ({"precision": 0} if param.kind == "int" else None)
    low, high = param.widget_range()
    return gr.Slider, {"minimum": low, "maximum": high, "step": param.step}


def checked_value(spec: SamplerSpec, param: Param, raw: Any) -> Any:
    """``raw`` as the sampler takes it, or ``ValueError`` naming the setting, its key and valid range."""
    try:
        return param.validate(raw)
    except ValueError:
        raise ValueError(
            f"setting '{setting_label(spec, param)}' ({option_key(spec, param)}) = {raw!r} is out of range: "
            f"expected {param.range_text()}"
        ) from None


def validator(spec: SamplerSpec, param: Param, opts: Any) -> Callable[[], None]:
    """The option's ``onchange``: the host's ``Options.set`` (Settings, ``POST /sdapi/v1/options``) calls
    it right after storing a value, and on an exception prints it, puts the old value back and reports
    the option unchanged, so a bad value is never kept or saved. ``override_settings`` skips
    ``onchange``; there :func:`read_values` stops the generation with the same message."""
    key = option_key(spec, param)

    def check() -> None:
        checked_value(spec, param, opts.data.get(key, param.default))

    return check


def option_info(spec: SamplerSpec, param: Param, shared: Any, gr: Any) -> Any:
    """The host ``OptionInfo`` of one parameter, in the host's "Sampler parameters" section."""
    component, args = widget(param, gr)
    kwargs = {"section": SETTINGS_SECTION, "infotext": infotext_label(spec, param),
              "onchange": validator(spec, param, shared.opts)}
    try:
        info = shared.OptionInfo(param.default, setting_label(spec, param), component, args,
                                 category_id=SETTINGS_CATEGORY, **kwargs)
    except TypeError:  # an OptionInfo without settings categories (A1111 < 1.6)
        info = shared.OptionInfo(param.default, setting_label(spec, param), component, args, **kwargs)
    return info.info(f"{param.tooltip} Valid: {param.range_text()}; default {param.default}.")


def register_settings(specs: Iterable[SamplerSpec] | None = None) -> list[str]:
    """Add an option for every parameter of ``specs`` (default: the whole registry) to
    ``shared.opts``; adding again replaces the description and keeps the user's value, unless that value
    is out of range (a config file written by hand or by an older version): then the default is used,
    with a warning. Returns the keys."""
    import gradio as gr
    from modules import shared

    keys = []
    for spec in SAMPLER_SPECS.values() if specs is None else specs:
        for param in spec.params:
            key = option_key(spec, param)
            shared.opts.add_option(key, option_info(spec, param, shared, gr))
            if key in shared.opts.data:
                try:
                    checked_value(spec, param, shared.opts.data[key])
                except ValueError as e:
                    log.warning("Momentum Samplers: %s; using the default %r", e, param.default)
                    shared.opts.data[key] = param.default
            keys.append(key)
    return keys


def read_values(spec: SamplerSpec, opts: Any) -> dict[str, Any]:
    """The sampler's keyword arguments from the current settings (``override_settings`` included),
    validated; a bad value raises ``ValueError`` naming the setting and its valid range."""
    return {param.name: checked_value(spec, param, getattr(opts, option_key(spec, param), param.default))
            for param in spec.params}


def record_infotext(p: Any, spec: SamplerSpec, values: dict[str, Any]) -> None:
    """Write every parameter into the generation's infotext (defaults too, so the image stays
    reproducible if a default ever changes)."""
    for param in spec.params:
        p.extra_generation_params[infotext_label(spec, param)] = values[param.name]
