"""The function ComfyUI calls for one of our samplers (docs/hosts.md#stock-sampler-lists).

:func:`host_sampler` wraps a registry sampler in ComfyUI's k-diffusion signature. Per call it takes the
parameters a MODEL-options node stored in the model (``extra_args["model_options"][OPTIONS_KEY]``),
lets the keyword arguments it is called with (a SAMPLER node's values) override them, resolves the
model family the way ComfyUI's own samplers do, and calls the sampler with ``extra_args`` untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..sampling import SamplerSpec
from . import naming


def find_model_sampling(model: Any) -> Any:
    """ComfyUI's ``model_sampling`` object behind the wrapped model a sampler receives, or None."""
    inner = getattr(model, "inner_model", None)
    sampling = getattr(getattr(inner, "inner_model", None), "model_sampling", None)
    if sampling is None:
        patcher = getattr(inner, "model_patcher", None)
        getter = getattr(patcher, "get_model_object", None)
        if getter is not None:
            try:
                sampling = getter("model_sampling")
            except (AttributeError, KeyError):
                sampling = None
    return sampling


def model_family(model: Any) -> str:
    """'flow' when the model's ``model_sampling`` is a ``comfy.model_sampling.CONST`` (flow matching:
    SD3, Flux, Wan, …), else 've': every other model sampling hands samplers VE-form latents."""
    sampling = find_model_sampling(model)
    if sampling is None:
        return "ve"
    try:
        from comfy.model_sampling import CONST
    except ImportError:
        return "ve"
    return "flow" if isinstance(sampling, CONST) else "ve"


def stored_options(extra_args: Mapping[str, Any] | None, spec: SamplerSpec) -> dict[str, Any]:
    """The parameters a MODEL-options node stored for ``spec`` (only names the sampler has)."""
    model_options = (extra_args or {}).get("model_options") or {}
    stored = (model_options.get(naming.OPTIONS_KEY) or {}).get(spec.name) or {}
    known = {p.name for p in spec.params}
    return {k: v for k, v in stored.items() if k in known}


def with_stored_options(model_options: Mapping[str, Any], spec: SamplerSpec, values: Mapping[str, Any]) -> dict:
    """A copy of ``model_options`` whose ``OPTIONS_KEY`` entry also holds ``values`` for ``spec``;
    what is stored for other samplers (or by other packs) is kept."""
    out = dict(model_options)
    ours = dict(out.get(naming.OPTIONS_KEY) or {})
    ours[spec.name] = dict(values)
    out[naming.OPTIONS_KEY] = ours
    return out


def check_values(spec: SamplerSpec, values: Mapping[str, Any], stored_only: set[str] = frozenset()) -> None:
    """Check the parameter values before sampling, so an error names the sampler (and the options node
    that stored a value): ComfyUI range-checks widget values but not values arriving through a link,
    and it reports the error as the KSampler's, which shows neither."""
    for param in spec.params:
        if param.name not in values:
            continue
        try:
            param.validate(values[param.name])
        except ValueError as err:
            source = f", set by {naming.options_node_id(spec.name)}" if param.name in stored_only else ""
            raise ValueError(f"{spec.label} ({naming.stock_name(spec.name)}): {err}{source}") from None


_HOST_FUNCTIONS: dict[str, tuple[SamplerSpec, Callable]] = {}


def host_sampler(spec: SamplerSpec) -> Callable[..., Any]:
    """The ComfyUI-facing function of ``spec`` (one function object per spec, reused)."""
    cached = _HOST_FUNCTIONS.get(spec.name)
    if cached is not None and cached[0] is spec:
        return cached[1]

    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, **params):
        stored = stored_options(extra_args, spec)
        from_options = set(stored) - set(params)
        params = {**stored, **params}
        check_values(spec, params, from_options)
        if params.get("model_family") is None:
            params["model_family"] = model_family(model)
        return spec.fn(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable, **params)

    name = naming.stock_name(spec.name)
    sample.__name__ = sample.__qualname__ = f"sample_{name}"
    sample.__doc__ = f"{spec.label} for ComfyUI ({name}): {spec.description}"
    setattr(sample, naming.MARKER_ATTR, spec.name)
    _HOST_FUNCTIONS[spec.name] = (spec, sample)
    return sample
