"""The all-round benchmark (testbed/bench_allround.py) on a few cells, host-free: equal model calls,
ratios to the per-cell best, an extra candidate through the same path, CSVs written."""

from __future__ import annotations

import functools
import math

import pytest

from momentum_samplers.testbed import bench_allround as b


@pytest.fixture(scope="module")
def result(kdiff, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    extra = {"euler again": kdiff.sample_euler, "lms order 2": functools.partial(kdiff.sample_lms, order=2),
             "ghvb again": "ghvb"}
    res = b.run_allround(extra, bed="analytic", groups=[b.Group("karras", "ve", 7.5), b.Group("simple", "flow", 5.0)],
                         nfes=(6, 12), samples=6, only=["euler", "heun", "dpmpp_2m", "lms", "ghvb"], comfyui_path="",
                         out_dir=str(out), log=lambda _: None)
    return res, out


def _rows(res, sampler):
    return [r for r in res.rows if r["sampler"] == sampler]


def test_equal_model_calls(result):
    res, _ = result
    for r in res.rows:
        if r["sampler"] != "exact" and r["steps"]:
            assert 0 < r["calls"] <= r["nfe"], r
    heun = {(r["group"], r["nfe"]): r for r in _rows(res, "heun")}
    euler = {(r["group"], r["nfe"]): r for r in _rows(res, "euler")}
    for key, r in heun.items():
        assert r["steps"] < euler[key]["steps"]  # two calls per step: fewer steps
        assert r["calls"] > r["nfe"] - 2  # but the budget is used


def test_ratios_and_extra_candidates(result):
    res, _ = result
    cells: dict = {}
    for r in res.rows:
        if r["sampler"] != "exact" and not math.isnan(r["ratio"]):
            cells.setdefault((r["group"], r["nfe"]), []).append(r["ratio"])
    assert cells and all(min(v) == 1.0 and min(v) <= max(v) for v in cells.values())
    # the extra candidate runs through the built-in path: identical to the built-in euler
    for base, again in (("euler", "euler again"), ("ghvb", "ghvb again")):
        for a, c in zip(_rows(res, base), _rows(res, again), strict=True):
            assert a["error"] == c["error"] and a["calls"] == c["calls"]
    # k-diffusion's dpmpp_2m is VE-only outside ComfyUI; our ghvb runs flow latents
    assert all(math.isnan(r["error"]) for r in _rows(res, "dpmpp_2m") if r["family"] == "flow")
    assert all(math.isfinite(r["error"]) for r in _rows(res, "ghvb"))
    # more calls, smaller error
    for sampler in ("euler", "ghvb", "lms order 2"):
        by = {(r["group"], r["nfe"]): r["error"] for r in _rows(res, sampler)}
        assert by["karras w=7.5", 12] < by["karras w=7.5", 6]
    score = res.score("ghvb")
    assert score["cells"] == 4 and score["geo_mean"] >= 1.0 and score["worst"] >= score["geo_mean"]


def test_csv_written(result):
    _, out = result
    cells = (out / "allround_analytic_cells.csv").read_text().splitlines()
    assert cells[0].startswith("bed,schedule,family,guidance,nfe")
    assert len(cells) == 1 + 2 * 2 * (1 + 8)  # header + cells × (exact + 8 samplers)
    assert "ghvb" in (out / "allround_analytic_scores.csv").read_text()


def test_baseline_scores_a_new_sampler_without_rerunning_the_others(result, kdiff):
    res, out = result
    again = b.run_allround({"euler again": kdiff.sample_euler}, bed="analytic", groups=[b.Group("karras", "ve", 7.5)],
                           nfes=(6, 12), samples=6, comfyui_path="", out_dir=None, log=lambda _: None,
                           baseline=out / "allround_analytic_cells.csv")
    assert {s["sampler"] for s in again.scores} == {s["sampler"] for s in res.scores}
    full = {(r["group"], r["nfe"]): r["ratio"] for r in _rows(res, "euler again") if r["family"] == "ve"}
    assert {(r["group"], r["nfe"]): r["ratio"] for r in _rows(again, "euler again")} == full


def test_learned_bed_runs(tmp_path):
    pytest.importorskip("safetensors")
    res = b.run_allround(bed="learned", groups=[b.Group("karras", "ve", 15.0)], nfes=(6,), samples=10,
                         only=["euler", "ghvb"], comfyui_path="", out_dir=None, log=lambda _: None)
    exact = _rows(res, "exact")[0]
    assert exact["burn"] >= 0 and len(res.scores) == 2
