"""Every node of the pack has a ComfyUI help page in web/docs/, generated from the parameter table
and up to date (docs/hosts.md#help-pages).

The pages are written by ``python tools/help_pages.py``; when this test fails because a page is
stale, run that command (and ``python demo.py --publish`` for a new sampler's figure).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from momentum_samplers.nodes.schema import node_descriptions
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parent.parent
WEB_DOCS = ROOT / "web" / "docs"
TOOL = runpy.run_path(str(ROOT / "tools" / "help_pages.py"))


def test_web_directory_is_the_served_folder_with_the_help_pages():
    entry = runpy.run_path(str(ROOT / "__init__.py"))
    assert (ROOT / entry["WEB_DIRECTORY"] / "docs").resolve() == WEB_DOCS


@pytest.mark.parametrize("node", node_descriptions(), ids=lambda n: n.node_id)
def test_every_node_has_a_help_page(node):
    assert (WEB_DOCS / f"{node.node_id}.md").is_file(), "run: python tools/help_pages.py"


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_every_sampler_has_its_own_text_and_figure(name):
    text = ROOT / "docs" / "help" / f"{name}.md"
    assert text.is_file(), f"write {text.relative_to(ROOT)}: what {name} is for, when to pick it, its parameters"
    assert len(text.read_text(encoding="utf-8").split()) >= 40, f"{text.relative_to(ROOT)} is too short"
    assert (WEB_DOCS / f"{name}.png").is_file(), "run: python demo.py --publish"


def test_pages_and_the_parameter_table_are_up_to_date():
    problems = TOOL["stale"]()
    assert not problems, "run: python tools/help_pages.py\n" + "\n".join(problems)


@pytest.mark.parametrize("node", node_descriptions(), ids=lambda n: n.node_id)
def test_the_inputs_list_shows_the_node_inputs_in_order_with_their_defaults(node):
    page = (WEB_DOCS / f"{node.node_id}.md").read_text(encoding="utf-8")
    rows = [line for line in page.split("## Inputs", 1)[1].split("\n## ", 1)[0].splitlines()
            if line.startswith("- **`")]
    assert [row.split("`")[1] for row in rows] == [i.id for i in node.inputs]
    for row, desc in zip(rows, node.inputs, strict=True):
        if desc.param is not None:
            assert f"default {TOOL['_value'](desc.param.default)};" in row
            assert desc.param.tooltip in row


def test_stale_pages_are_detected(tmp_path, monkeypatch):
    page = WEB_DOCS / f"{node_descriptions()[0].node_id}.md"
    copy = tmp_path / page.name
    copy.write_text(page.read_text(encoding="utf-8").replace("- **`", "- **`x", 1), encoding="utf-8")
    stale = TOOL["stale"]
    monkeypatch.setitem(stale.__globals__, "WEB_DOCS", tmp_path)
    problems = stale()
    assert any(page.name in p and "stale" in p for p in problems)
