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
        if r["sampler"] != "exact" and math.isfinite(r["error"]):
            cells.setdefault((r["group"], r["nfe"]), []).append(r)
    assert cells
    for cell in cells.values():
        best = min(r["error"] for r in cell)
        for r in cell:
            assert r["ratio"] == pytest.approx(r["error"] / best, rel=1e-12)
        assert max(r["ratio"] for r in cell) > 1.5  # the samplers differ: the ratios rank something
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
    ratios = [r["ratio"] for r in _rows(res, "ghvb")]
    assert score["cells"] == 4 and score["worst"] == max(ratios)
    assert score["geo_mean"] == pytest.approx(math.exp(sum(map(math.log, ratios)) / 4), rel=1e-12)


def test_results_round_trip(result, tmp_path):
    """The committed-results format keeps what the tables need: read back, every ratio is the same to the
    4 significant digits the errors are written with."""
    res, _ = result
    path = tmp_path / "allround_analytic.csv"
    b.write_results(path, res.rows)
    assert path.read_text().splitlines()[0] == ",".join(b.RESULT_COLUMNS)
    back = {(r["group"], r["nfe"], r["sampler"]): r for r in b.read_results(path)}
    for r in res.rows:
        if r["sampler"] != "exact" and math.isfinite(r["error"]):
            assert back[r["group"], r["nfe"], r["sampler"]]["ratio"] == pytest.approx(r["ratio"], rel=2e-3)


def test_csv_written(result):
    _, out = result
    cells = (out / "allround_analytic_cells.csv").read_text().splitlines()
    assert cells[0].startswith("bed,split,group,schedule,family,shift,data,guidance,nfe,sampler")
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


@pytest.mark.parametrize("bed", ["digits", "conv"])
def test_learned_beds_converge(bed):
    """Each learned bed through the benchmark: the exact row's burn share is that of the reference, and
    Euler's error shrinks with more calls (halved or better from 6 to 20)."""
    pytest.importorskip("safetensors")
    res = b.run_allround(bed=bed, groups=[b.Group("karras", "ve", 8.0)], nfes=(6, 20), samples=8, only=["euler"],
                         comfyui_path="", out_dir=None, log=lambda _: None)
    errors = {r["nfe"]: r["error"] for r in _rows(res, "euler")}
    assert errors[20] < 0.5 * errors[6]
    assert all(r["burn"] == r["exact_burn"] for r in _rows(res, "exact"))
