"""V3 node classes (``comfy_api.latest``, ComfyUI ≥ 0.3.48) built from :mod:`.schema`
(docs/hosts.md#v3).

SAMPLER nodes return ``comfy.samplers.KSAMPLER(fn, {params})`` with fresh dicts; options nodes
return ``model.clone()`` with the values stored under ``model_options[OPTIONS_KEY]``. Neither checks
the values: ComfyUI holds every widget to its range and choices before ``execute``, and the sampler
checks its keywords when it runs. tests/comfyui/fixtures/node_schema.json holds what these classes
emit.
"""

from __future__ import annotations

from typing import Any

from ..sampling import SAMPLER_SPECS, SamplerSpec
from .host import host_sampler, with_stored_options
from .schema import InputDesc, NodeDesc, node_descriptions


def _widget(io: Any, desc: InputDesc) -> Any:
    """The ``io.*.Input`` of one input description."""
    p = desc.param
    if p is None:
        if desc.type != "MODEL":
            raise ValueError(f"no V3 socket type for {desc.type}")
        return io.Model.Input(desc.id, tooltip=desc.tooltip)
    if p.kind == "float":
        return io.Float.Input(desc.id, default=p.default, min=p.min, max=p.max, step=p.step, round=False,
                              tooltip=desc.tooltip)
    if p.kind == "int":
        return io.Int.Input(desc.id, default=p.default, min=p.min, max=p.max, step=p.step, tooltip=desc.tooltip)
    if p.kind == "bool":
        return io.Boolean.Input(desc.id, default=p.default, tooltip=desc.tooltip)
    if p.kind == "choice":
        return io.Combo.Input(desc.id, options=list(p.choices), default=p.default, tooltip=desc.tooltip)
    raise ValueError(f"parameter kind {p.kind!r} has no widget")


def _output(io: Any, node: NodeDesc) -> Any:
    if node.output_type == "SAMPLER":
        return io.Sampler.Output(tooltip=node.output_tooltip)
    return io.Model.Output(tooltip=node.output_tooltip)


def make_sampler_object(spec: SamplerSpec, values: dict[str, Any]) -> Any:
    """``comfy.samplers.KSAMPLER`` running ``spec`` with ``values``."""
    import comfy.samplers

    return comfy.samplers.KSAMPLER(host_sampler(spec), extra_options=dict(values), inpaint_options={})


def patch_model(model: Any, spec: SamplerSpec, values: dict[str, Any]) -> Any:
    """A clone of ``model`` whose model_options carry ``values`` for ``spec``."""
    patched = model.clone()
    patched.model_options = with_stored_options(patched.model_options, spec, values)
    return patched


def node_class(io: Any, node: NodeDesc, spec: SamplerSpec | None = None) -> type:
    """One ``io.ComfyNode`` subclass for ``node`` (``spec`` defaults to the registry's)."""
    spec = SAMPLER_SPECS[node.sampler] if spec is None else spec

    def define_schema(cls):
        return io.Schema(
            node_id=node.node_id,
            display_name=node.display_name,
            category=node.category,
            description=node.description,
            inputs=[_widget(io, i) for i in node.inputs],
            outputs=[_output(io, node)],
        )

    if node.kind == "sampler":
        def execute(cls, **values):
            return io.NodeOutput(make_sampler_object(spec, values))
    else:
        def execute(cls, model, **values):
            return io.NodeOutput(patch_model(model, spec, values))

    return type(node.node_id, (io.ComfyNode,), {
        "__doc__": node.description,
        "__module__": __name__,
        "define_schema": classmethod(define_schema),
        "execute": classmethod(execute),
    })


def node_classes(io: Any | None = None) -> list[type]:
    """Every node of the pack as a V3 class (``io`` defaults to ``comfy_api.latest.io``)."""
    if io is None:
        from comfy_api.latest import io
    return [node_class(io, node) for node in node_descriptions()]


def make_extension() -> Any:
    """The ``ComfyExtension`` that ``comfy_entrypoint`` returns."""
    from comfy_api.latest import ComfyExtension, io

    classes = node_classes(io)

    class MomentumSamplersExtension(ComfyExtension):
        async def get_node_list(self) -> list[type]:
            return list(classes)

    return MomentumSamplersExtension()
