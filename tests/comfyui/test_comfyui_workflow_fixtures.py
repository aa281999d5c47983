"""Saved workflows still map onto the current nodes (spec/hosts.md §3, "How widget values are saved").

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
from momentum_samplers.nodes.schema import node_descriptions

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
UI_FILES = [FIXTURES / "workflow_ui.json", *sorted((ROOT / "example_workflows").glob("*.json"))]
NODES = {n.node_id: n for n in node_descriptions()}
STOCK = {naming.stock_name(n.sampler) for n in NODES.values()}
#: position of ``sampler_name`` in the UI widget values of ComfyUI's KSampler nodes (after the seed
#: and its client-side "control after generate" value)
SAMPLER_NAME_WIDGET = {"KSampler": 4, "KSamplerAdvanced": 5}


def check_values(node_id: str, values: dict) -> None:
    node = NODES[node_id]
    params = {i.id: i.param for i in node.inputs if i.param is not None}
    for name, value in values.items():
        assert name in params, f"{node_id}: saved input {name!r} no longer exists"
        assert params[name].validate(value) == value, f"{node_id}.{name}={value!r} is no longer valid"


def test_api_fixture_maps_by_name():
    prompt = json.loads((FIXTURES / "workflow_api.json").read_text(encoding="utf-8"))
    seen = set()
    for entry in prompt.values():
        kind, inputs = entry["class_type"], entry["inputs"]
        if kind in NODES:
            seen.add(NODES[kind].kind)
            sockets = {i.id for i in NODES[kind].inputs if i.param is None}
            assert sockets <= set(inputs), f"{kind}: a socket input is missing"
            check_values(kind, {k: v for k, v in inputs.items() if k not in sockets})
        if kind in SAMPLER_NAME_WIDGET and inputs["sampler_name"].startswith(naming.STOCK_PREFIX):
            assert inputs["sampler_name"] in STOCK
    assert seen == {"sampler", "options"}


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflows_map_by_position(path):
    workflow = json.loads(path.read_text(encoding="utf-8"))
    used = 0
    for node in workflow["nodes"]:
        kind, values = node["type"], node.get("widgets_values", [])
        if kind in NODES:
            used += 1
            widgets = [i.id for i in NODES[kind].inputs if i.param is not None]
            assert len(values) == len(widgets), f"{path.name} node {node['id']}: widget count changed"
            check_values(kind, dict(zip(widgets, values, strict=True)))
            sockets = [i.id for i in NODES[kind].inputs if i.param is None]
            assert [i["name"] for i in node.get("inputs", []) if i.get("link") is not None] == sockets
        if kind in SAMPLER_NAME_WIDGET:
            name = values[SAMPLER_NAME_WIDGET[kind]]
            assert not name.startswith(naming.STOCK_PREFIX) or name in STOCK, f"{name} is not registered"
    assert used, f"{path.name} uses none of our nodes"


def test_ui_and_api_fixtures_are_the_same_graph():
    ui = json.loads((FIXTURES / "workflow_ui.json").read_text(encoding="utf-8"))
    api = json.loads((FIXTURES / "workflow_api.json").read_text(encoding="utf-8"))
    for node in ui["nodes"]:
        entry = api[str(node["id"])]
        assert entry["class_type"] == node["type"]
        if node["type"] in NODES:
            widgets = [i.id for i in NODES[node["type"]].inputs if i.param is not None]
            assert node["widgets_values"] == [entry["inputs"][w] for w in widgets]
