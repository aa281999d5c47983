"""The committed node-schema snapshot is a contract (docs/hosts.md#frozen-names).

``fixtures/node_schema.json`` holds what the V3 node classes emit (each input's ``as_dict()`` as the
front end receives it, less the free-text tooltip) and the names registration adds to the stock
sampler list, both taken here from the real code run against the fake ComfyUI. What is in it may only
grow: stock sampler names and nodes are never
removed or renamed; a node's inputs keep their ids, types and order (new ones only appended), their
defaults (the stock KSampler runs with them) and at least their ranges / choices (saved values must
stay valid). New samplers add nodes freely. After such an addition, refresh the snapshot with

    MS_UPDATE_SNAPSHOT=1 python -m pytest tests/comfyui/test_comfyui_schema_snapshot.py

which rewrites it only if the current schema is compatible with the committed one. A deliberate break
before a release (e.g. a default retuned before anyone could have saved a workflow with it) is
written with ``MS_UPDATE_SNAPSHOT=force``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from momentum_samplers.nodes.registration import register_stock_samplers
from momentum_samplers.nodes.v3 import node_classes

SNAPSHOT = Path(__file__).resolve().parent / "fixtures" / "node_schema.json"
FREE_TEXT = ("tooltip", "display_name")


def emitted(io) -> dict:
    """Stock sampler names and, per node, category, inputs [id, type, options] in order, and output type."""
    nodes = {}
    for cls in node_classes(io):
        schema = cls.define_schema()
        (output,) = schema.outputs
        nodes[schema.node_id] = {
            "category": schema.category,
            "inputs": [[i.id, i.get_io_type(), {k: v for k, v in i.as_dict().items() if k not in FREE_TEXT}]
                       for i in schema.inputs],
            "output": output.get_io_type(),
        }
    return {"stock_sampler_names": register_stock_samplers().added, "nodes": nodes}


def compatibility_errors(frozen: dict, current: dict) -> list[str]:
    """Every way ``current`` breaks what ``frozen`` promised (empty = compatible)."""
    errors = []
    names = current["stock_sampler_names"]
    for name in frozen["stock_sampler_names"]:
        if name not in names:
            errors.append(f"stock sampler name {name} was removed")
    for node_id, old in frozen["nodes"].items():
        new = current["nodes"].get(node_id)
        if new is None:
            errors.append(f"node {node_id} was removed")
            continue
        if new["output"] != old["output"]:
            errors.append(f"{node_id}: output type {old['output']} -> {new['output']}")
        if len(new["inputs"]) < len(old["inputs"]):
            errors.append(f"{node_id}: inputs were removed")
        for (old_id, old_type, old_opts), (new_id, new_type, new_opts) in zip(old["inputs"], new["inputs"], strict=False):
            where = f"{node_id}.{old_id}"
            if (new_id, new_type) != (old_id, old_type):
                errors.append(f"{where}: input changed to {new_id} ({new_type}); order and types are frozen")
                continue
            if new_opts.get("default") != old_opts.get("default"):
                errors.append(f"{where}: default {old_opts.get('default')!r} -> {new_opts.get('default')!r}")
            if "min" in old_opts and new_opts.get("min", float("-inf")) > old_opts["min"]:
                errors.append(f"{where}: min narrowed to {new_opts.get('min')}")
            if "max" in old_opts and new_opts.get("max", float("inf")) < old_opts["max"]:
                errors.append(f"{where}: max narrowed to {new_opts.get('max')}")
            missing = set(old_opts.get("options", [])) - set(new_opts.get("options", []))
            if missing:
                errors.append(f"{where}: choices removed: {sorted(missing)}")
        for extra in new["inputs"][len(old["inputs"]):]:
            errors.append(f"{node_id}.{extra[0]}: appended input needs to be optional with an old-behaviour "
                          "default (the node builder does not support that yet)")
    return errors


def test_schema_is_compatible_with_the_committed_snapshot(fake_comfy):
    frozen = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    current = emitted(fake_comfy.io)
    errors = compatibility_errors(frozen, current)
    update = os.environ.get("MS_UPDATE_SNAPSHOT", "")
    if update == "force" or (update == "1" and not errors):
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    assert not errors, (
        "the ComfyUI node schema breaks saved workflows:\n  " + "\n  ".join(errors)
        + "\n(see this file's docstring for when and how to refresh the snapshot)"
    )


def test_the_compatibility_check_catches_breaks(fake_comfy):
    frozen = emitted(fake_comfy.io)
    node_id = next(iter(frozen["nodes"]))
    broken = json.loads(json.dumps(frozen))
    inputs = broken["nodes"][node_id]["inputs"]
    inputs.reverse()
    inputs[0][2]["default"] = "changed"
    broken["stock_sampler_names"].pop()
    errors = compatibility_errors(frozen, broken)
    assert any("order and types are frozen" in e for e in errors)
    assert any("stock sampler name" in e for e in errors)
    grown = json.loads(json.dumps(frozen))
    grown["nodes"]["NewNode"] = {"category": "x", "inputs": [], "output": "SAMPLER"}
    grown["stock_sampler_names"].append("ms_new")
    assert compatibility_errors(frozen, grown) == []
