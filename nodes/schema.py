"""Host-free descriptions of our ComfyUI nodes, generated from the parameter tables
(docs/hosts.md#sampler-nodes, docs/hosts.md#options-nodes); :mod:`.v3` builds the node classes from
them and tools/help_pages.py the nodes' help pages.

Every registry sampler gets two nodes:

- a SAMPLER node (``MomentumSampler_<name>``): its parameters as widgets, for SamplerCustom /
  SamplerCustomAdvanced;
- a MODEL-options node (``MomentumSamplerOptions_<name>``): a ``model`` input followed by the same
  widgets; it stores the values in the model so the stock KSampler running ``ms_<name>`` uses them.

Input ids and order are those of the parameter table (a frozen contract: a later parameter must be
appended at the end, with a default that reproduces the old behaviour).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..sampling import SAMPLER_SPECS, Param, SamplerSpec
from . import naming

#: ComfyUI's input type for each parameter kind.
WIDGET_TYPES = {"float": "FLOAT", "int": "INT", "bool": "BOOLEAN", "choice": "COMBO"}


@dataclass(frozen=True)
class InputDesc:
    """One node input: a widget generated from a :class:`Param`, or a socket (``param`` is None)."""

    id: str
    type: str
    tooltip: str
    param: Param | None = None


@dataclass(frozen=True)
class NodeDesc:
    """One node: id, texts, inputs in their frozen order, one output."""

    node_id: str
    display_name: str
    category: str
    description: str
    kind: str  # "sampler" | "options"
    sampler: str  # registry name
    inputs: tuple[InputDesc, ...]
    output_type: str
    output_tooltip: str


def widget_tooltip(p: Param) -> str:
    """The parameter's own tooltip plus its valid values."""
    if p.kind in ("float", "int"):
        return f"{p.tooltip} Valid: {p.range_text()}."
    return p.tooltip


def param_inputs(spec: SamplerSpec) -> tuple[InputDesc, ...]:
    """The widgets of a sampler, in parameter-table order."""
    return tuple(InputDesc(p.name, WIDGET_TYPES[p.kind], widget_tooltip(p), p) for p in spec.params)


def sampler_node(spec: SamplerSpec) -> NodeDesc:
    """The SAMPLER node of ``spec``."""
    cost = "" if spec.nfe_per_step == 1 else f" Costs {spec.nfe_per_step} model calls per step."
    return NodeDesc(
        node_id=naming.sampler_node_id(spec.name),
        display_name=f"Sampler {spec.label} (Momentum)",
        category=naming.SAMPLER_CATEGORY,
        description=f"{spec.description}{cost} Connect to SamplerCustom's or SamplerCustomAdvanced's sampler input.",
        kind="sampler",
        sampler=spec.name,
        inputs=param_inputs(spec),
        output_type="SAMPLER",
        output_tooltip=f"The {spec.label} sampler with these settings.",
    )


def options_node(spec: SamplerSpec) -> NodeDesc:
    """The MODEL-options node of ``spec``."""
    stock = naming.stock_name(spec.name)
    model = InputDesc("model", "MODEL", f"The model the stock KSampler will run with sampler_name = {stock}.")
    return NodeDesc(
        node_id=naming.options_node_id(spec.name),
        display_name=f"Momentum Options {spec.label} (for KSampler)",
        category=naming.OPTIONS_CATEGORY,
        description=(
            f"Sets the parameters of {spec.label} for the stock KSampler / KSamplerAdvanced: pick "
            f"sampler_name = {stock} there and feed it this model. The values are saved with the workflow. "
            "Without this node the stock KSampler runs the sampler with its defaults."
        ),
        kind="options",
        sampler=spec.name,
        inputs=(model, *param_inputs(spec)),
        output_type="MODEL",
        output_tooltip=f"The same model, carrying these {spec.label} settings.",
    )


def node_descriptions(specs: Iterable[SamplerSpec] | None = None) -> list[NodeDesc]:
    """All our nodes, in registry order: each sampler's SAMPLER node, then its options node."""
    specs = SAMPLER_SPECS.values() if specs is None else specs
    out: list[NodeDesc] = []
    for spec in specs:
        out.append(sampler_node(spec))
        out.append(options_node(spec))
    return out
