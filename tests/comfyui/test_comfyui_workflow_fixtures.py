"""Saved workflows still map onto the current nodes (docs/hosts.md#frozen-names).

The committed fixtures (``fixtures/workflow_ui.json``, ``fixtures/workflow_api.json``: one graph
using our nodes on every route, in both formats) and the shipped ``example_workflows/`` are read the
way ComfyUI reads them: API prompts by input name, UI workflows by widget *position*. Every value of
our nodes must land on the same parameter and still be valid, and every ``ms_`` sampler name must
still be registered.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from momentum_samplers.nodes import naming
from momentum_samplers.nodes.v3 import node_classes
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
UI_FILES = [FIXTURES / "workflow_ui.json", *sorted((ROOT / "example_workflows").glob("*.json"))]
STOCK = {naming.stock_name(name) for name in SAMPLER_SPECS}
#: position of ``sampler_name`` in the UI widget values of ComfyUI's KSampler nodes (after the seed
#: and its client-side "control after generate" value)
SAMPLER_NAME_WIDGET = {"KSampler": 4, "KSamplerAdvanced": 5}


@pytest.fixture
def nodes(fake_comfy):
    """Node id → (kind, socket ids, widget ids in order, the sampler's parameters), from the V3 schemas."""
    out = {}
    for cls in node_classes(fake_comfy.io):
        schema = cls.define_schema()
        sampler = schema.node_id.removeprefix(naming.OPTIONS_NODE_PREFIX).removeprefix(naming.SAMPLER_NODE_PREFIX)
        params = {p.name: p for p in SAMPLER_SPECS[sampler].params}
        kind = "options" if schema.node_id.startswith(naming.OPTIONS_NODE_PREFIX) else "sampler"
        out[schema.node_id] = (kind, [i.id for i in schema.inputs if i.id not in params],
                               [i.id for i in schema.inputs if i.id in params], params)
    return out


def check_values(node, node_id: str, values: dict) -> None:
    params = node[3]
    for name, value in values.items():
        assert name in node[2], f"{node_id}: saved input {name!r} no longer exists"
        assert params[name].validate(value) == value, f"{node_id}.{name}={value!r} is no longer valid"


def test_api_fixture_maps_by_name(nodes):
    prompt = json.loads((FIXTURES / "workflow_api.json").read_text(encoding="utf-8"))
    seen = set()
    for entry in prompt.values():
        kind, inputs = entry["class_type"], entry["inputs"]
        if kind in nodes:
            seen.add(nodes[kind][0])
            sockets = set(nodes[kind][1])
            assert sockets <= set(inputs), f"{kind}: a socket input is missing"
            check_values(nodes[kind], kind, {k: v for k, v in inputs.items() if k not in sockets})
        if kind in SAMPLER_NAME_WIDGET and inputs["sampler_name"].startswith(naming.STOCK_PREFIX):
            assert inputs["sampler_name"] in STOCK
    assert seen == {"sampler", "options"}


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflows_map_by_position(nodes, path):
    workflow = json.loads(path.read_text(encoding="utf-8"))
    used = 0
    for node in workflow["nodes"]:
        kind, values = node["type"], node.get("widgets_values", [])
        if kind in nodes:
            used += 1
            _, sockets, widgets, _ = nodes[kind]
            assert len(values) == len(widgets), f"{path.name} node {node['id']}: widget count changed"
            check_values(nodes[kind], kind, dict(zip(widgets, values, strict=True)))
            assert [i["name"] for i in node.get("inputs", []) if i.get("link") is not None] == sockets
        if kind in SAMPLER_NAME_WIDGET:
            name = values[SAMPLER_NAME_WIDGET[kind]]
            assert not name.startswith(naming.STOCK_PREFIX) or name in STOCK, f"{name} is not registered"
    assert used, f"{path.name} uses none of our nodes"
