"""Host-free descriptions of our ComfyUI nodes, generated from the parameter tables
(spec/hosts.md §3; spec/style.md "Parameters are described once").

Every registry sampler gets two nodes:

- a SAMPLER node (``MomentumSampler_<name>``): its parameters as widgets, for SamplerCustom /
  SamplerCustomAdvanced;
- a MODEL-options node (``MomentumSamplerOptions_<name>``): a ``model`` input followed by the same
  widgets; it stores the values in the model so the stock KSampler running ``ms_<name>`` uses them.

Input ids and order are those of the parameter table (a frozen contract: a later parameter must be
appended at the end, with a default that reproduces the old behaviour). :func:`snapshot` is the
JSON form the committed schema snapshot is compared with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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

    def widget_options(self) -> dict[str, Any]:
        """default / min / max / step / options, as ComfyUI's widget options (None entries dropped)."""
        p = self.param
        if p is None:
            return {}
        out: dict[str, Any] = {"default": p.default}
        if p.kind in ("float", "int"):
            low, high = p.widget_range()
            out.update(min=low, max=high, step=p.step)
        if p.kind == "choice":
            out["options"] = list(p.choices)
        return {k: v for k, v in out.items() if v is not None}


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
    """The parameter's own tooltip plus its valid values (so open ends such as β ∈ (0, 1] show)."""
    if p.kind in ("float", "int"):
        return f"{p.tooltip} Valid: {p.range_text()}."
    return p.tooltip


def param_inputs(spec: SamplerSpec) -> tuple[InputDesc, ...]:
    """The widgets of a sampler, in parameter-table order."""
    return tuple(InputDesc(p.name, WIDGET_TYPES[p.kind], widget_tooltip(p), p) for p in spec.params)


def sampler_node(spec: SamplerSpec) -> NodeDesc:
    """The SAMPLER node of ``spec`` (spec/hosts.md §2 "Returning a SAMPLER")."""
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
    """The MODEL-options node of ``spec`` (spec/hosts.md §1, "Ways to expose β/λs", item 2)."""
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


def snapshot(specs: Iterable[SamplerSpec] | None = None) -> dict[str, Any]:
    """The frozen contract as JSON data: stock names and, per node, category, inputs (id, type, widget
    options) in order, and output type. Tooltips and descriptions are free text, not part of it."""
    specs = list(SAMPLER_SPECS.values() if specs is None else specs)
    nodes = {}
    for node in node_descriptions(specs):
        nodes[node.node_id] = {
            "category": node.category,
            "inputs": [[i.id, i.type, i.widget_options()] for i in node.inputs],
            "output": node.output_type,
        }
    return {"stock_sampler_names": [naming.stock_name(s.name) for s in specs], "nodes": nodes}
