"""The committed node-schema snapshot is a contract (docs/hosts.md#frozen-names).

``fixtures/node_schema.json`` holds what the V3 node classes emit (each input's ``as_dict()`` as the
front end receives it, less the free-text tooltip) and the names registration adds to the stock
sampler list, taken here from the real code run against the fake ComfyUI. Every frozen entry must
still be emitted exactly as frozen (saved workflows and API prompts hold those ids, inputs, defaults
and ranges), and every node the code registers must have an entry. ``python tools/freeze_nodes.py``
adds the entries of new nodes; it never changes an existing one.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "comfyui" / "fixtures" / "node_schema.json"
TOOL = runpy.run_path(str(ROOT / "tools" / "freeze_nodes.py"))


def test_every_frozen_entry_is_emitted_unchanged(fake_comfy):
    frozen = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    changed, _ = TOOL["differences"](frozen, TOOL["emitted"](fake_comfy.io))
    assert not changed, "the ComfyUI node schema breaks saved workflows:\n  " + "\n  ".join(changed)


def test_every_registered_node_is_frozen(fake_comfy):
    frozen = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    _, missing = TOOL["differences"](frozen, TOOL["emitted"](fake_comfy.io))
    assert not missing, "run: python tools/freeze_nodes.py\n  " + "\n  ".join(missing)


def test_the_check_catches_changes_and_the_tool_only_adds(fake_comfy):
    frozen = TOOL["emitted"](fake_comfy.io)
    node_id = next(iter(frozen["nodes"]))
    broken = json.loads(json.dumps(frozen))
    inputs = broken["nodes"][node_id]["inputs"]
    inputs[0][2]["default"] = "changed"
    broken["stock_sampler_names"].pop()
    del broken["nodes"][next(reversed(broken["nodes"]))]
    changed, missing = TOOL["differences"](broken, frozen)
    assert [c.split(":")[0] for c in changed] == [node_id]
    assert len(missing) == 2  # the popped stock name and the deleted node
    grown = TOOL["added"](broken, frozen)
    assert grown["nodes"][node_id]["inputs"][0][2]["default"] == "changed"  # left as frozen
    assert set(grown["nodes"]) == set(frozen["nodes"])
    assert grown["stock_sampler_names"] == frozen["stock_sampler_names"]
    assert TOOL["differences"](grown, frozen)[1] == []
