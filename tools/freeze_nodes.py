"""Freeze the ComfyUI node schema of nodes that are not frozen yet (docs/hosts.md#frozen-names).

``tests/comfyui/fixtures/node_schema.json`` holds, per node, what its V3 class emits (category, each
input's id, type and ``as_dict()`` options less the free-text tooltip, and the output type) and the
names registration adds to the stock sampler lists. ``tests/comfyui/test_comfyui_schema_snapshot.py``
fails when a frozen entry changed or a node has no entry. After adding a sampler:

    python tools/freeze_nodes.py           # add entries for the new nodes and stock names
    python tools/freeze_nodes.py --check   # list what is missing or changed; exit 1 if anything is

It only adds: an entry that differs from the code is reported and left as it is, and the tool exits
1. Changing a frozen entry breaks saved workflows; if that is ever deliberate (before a release), edit
the file by hand so the change shows in review.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "comfyui" / "fixtures" / "node_schema.json"
FAKES = ROOT / "tests" / "fakes"
FREE_TEXT = ("tooltip", "display_name")


def emitted(io) -> dict:
    """Stock sampler names and, per node, category, inputs [id, type, options] in order, and output type,
    as the V3 classes built on ``io`` give them."""
    from momentum_samplers.nodes.registration import register_stock_samplers
    from momentum_samplers.nodes.v3 import node_classes

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


def differences(frozen: dict, current: dict) -> tuple[list[str], list[str]]:
    """(changed: frozen entries the code no longer gives exactly, missing: current entries not frozen)."""
    changed, missing = [], []
    names = current["stock_sampler_names"]
    changed += [f"stock sampler name {n} is gone" for n in frozen["stock_sampler_names"] if n not in names]
    missing += [f"stock sampler name {n}" for n in names if n not in frozen["stock_sampler_names"]]
    for node_id, old in frozen["nodes"].items():
        new = current["nodes"].get(node_id)
        if new is None:
            changed.append(f"node {node_id} is gone")
        elif new != old:
            for key in ("category", "output"):
                if new[key] != old[key]:
                    changed.append(f"{node_id}: {key} {old[key]!r} -> {new[key]!r}")
            if new["inputs"] != old["inputs"]:
                changed.append(f"{node_id}: inputs {json.dumps(old['inputs'])} -> {json.dumps(new['inputs'])}")
    missing += [f"node {node_id}" for node_id in current["nodes"] if node_id not in frozen["nodes"]]
    return changed, missing


def added(frozen: dict, current: dict) -> dict:
    """``frozen`` with the current entries it lacks appended; existing entries untouched."""
    out = json.loads(json.dumps(frozen))
    out["stock_sampler_names"] += [n for n in current["stock_sampler_names"] if n not in frozen["stock_sampler_names"]]
    for node_id, entry in current["nodes"].items():
        out["nodes"].setdefault(node_id, entry)
    return out


def _current() -> dict:
    runpy.run_path(str(ROOT / "_package.py"))["load_package"]()
    sys.path.insert(0, str(FAKES))  # the fake ComfyUI surface the contract tests use
    import comfy_api.latest.io as io

    return emitted(io)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report; write nothing")
    args = parser.parse_args()
    frozen = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    current = _current()
    changed, missing = differences(frozen, current)
    for line in changed:
        print("CHANGED (left as frozen):", line)
    for line in missing:
        print("missing:" if args.check else "added:", line)
    if missing and not args.check:
        SNAPSHOT.write_text(json.dumps(added(frozen, current), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if not changed and not missing:
        print("every node is frozen and unchanged")
    return 1 if changed or (missing and args.check) else 0


if __name__ == "__main__":
    sys.exit(main())
