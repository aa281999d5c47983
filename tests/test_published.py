"""Every number the docs quote between generated markers is what the committed results give
(testbed/published.py; rewrite them with ``python benchmark.py publish``)."""

from __future__ import annotations

import json

import pytest

from momentum_samplers.testbed import published


def test_every_generated_block_matches_its_results():
    problems = published.stale()
    assert not problems, "run: python benchmark.py publish\n" + "\n".join(problems)


def test_the_published_files_use_blocks():
    # guards against the scan silently reading no file (a moved README, a renamed folder)
    names = [f.relative_to(published.ROOT).as_posix() for f in published.target_files()]
    assert {"README.md", "docs/hosts.md", "docs/benchmark.md", "docs/help/ghvb.md"} <= set(names)
    used = sum(f.read_text(encoding="utf-8").count("<!-- generated: ") for f in published.target_files())
    assert used >= 5


def test_an_unknown_block_is_reported():
    text = "a\n<!-- generated: no-such-block -->\nold\n<!-- /generated -->\nb\n"
    new, problems = published.fill(text, {"other": lambda: "x"})
    assert new == text
    assert problems == ["unknown generated block 'no-such-block'"]


def test_an_unclosed_block_is_reported():
    _, problems = published.fill("<!-- generated: a -->\nold\n", {"a": lambda: "new"})
    assert problems and "closings" in problems[0]


def test_a_stale_block_is_rewritten_and_the_rest_kept(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("head\n<!-- generated: a -->\nold 1\nold 2\n<!-- /generated -->\ntail\n", encoding="utf-8")
    published._BLOCKS.setdefault("test-a", lambda: "new")
    page.write_text(page.read_text().replace("generated: a ", "generated: test-a "), encoding="utf-8")
    assert published.stale([page]) == [f"{page}: generated blocks are stale"]
    assert published.publish([page]) == [page]
    assert page.read_text() == "head\n<!-- generated: test-a -->\nnew\n<!-- /generated -->\ntail\n"
    assert published.stale([page]) == []


def _accuracy_rows(errors: dict[str, float]) -> list[dict]:
    rows = [{"guidance": 15.0, "sampler": "exact ODE solution", "steps": 0, "error": 0.0, "saturation": 0.25}]
    for label, e in errors.items():
        rows += [{"guidance": 15.0, "sampler": label, "steps": n, "error": e * n, "saturation": 1.0} for n in (5, 8, 10)]
    return rows


def test_the_headline_is_read_from_the_results_file(tmp_path, monkeypatch):
    errors = {"plms_hb order=4, beta=0.8": 0.01, "plms_hb beta=1": 1.0, "dpmpp_2m_hb beta=0.8": 0.02,
              "dpmpp_2m_hb beta=1": 2.0, "unipc_hb beta=0.7": 0.03, "unipc_hb beta=1": 3.0}
    (tmp_path / published.CORE).write_text(json.dumps({"overhead": [], "accuracy": _accuracy_rows(errors)}))
    monkeypatch.setattr(published, "RESULTS", tmp_path)
    assert published.divergence_headline() == (
        "Benchmark headline (d = 1024, guidance 15, 8 steps): error 0.08 for PLMS HB vs 8 for PLMS-4, "
        "0.16 for DPM++ 2M HB vs 16 for DPM++ 2M, 0.24 for UniPC HB vs 24 for UniPC.")


def test_an_ambiguous_default_run_is_refused(tmp_path, monkeypatch):
    errors = {"plms_hb order=4, beta=0.8": 0.01, "plms_hb order=3, beta=0.8": 0.02, "plms_hb beta=1": 1.0}
    (tmp_path / published.CORE).write_text(json.dumps({"overhead": [], "accuracy": _accuracy_rows(errors)}))
    monkeypatch.setattr(published, "RESULTS", tmp_path)
    with pytest.raises(KeyError):
        published.divergence_headline()
