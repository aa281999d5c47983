"""The all-round benchmark's published tables (README, docs/benchmark.md, help pages), rendered from the
results ``python benchmark.py allround --save`` writes to docs/results/allround_<bed>.csv.

Score of a sampler in a cell: its error divided by the best error of all samplers in that cell; a ranking
is the geometric mean of the scores over a set of cells, with the worst cell beside it. Rankings are kept
apart for the tuning cells (where the recommended sampler's defaults were chosen) and the held-back
report cells, and per section: the analytic bed's VE and flow cells, the digits MLP, the photo-patch U-Net.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

from ..sampling import SAMPLER_SPECS
from .bench_allround import BEDS, _geo, read_results, scores, section
from .published import OVERHEAD, block, read_json, results_path

#: The sampler the README recommends.
RECOMMENDED = "adaptive_blend"
SECTIONS = {"analytic ve": "analytic, VE", "analytic flow": "analytic, flow", "digits": "digits MLP",
            "conv": "photo-patch U-Net"}
#: Guidance from which the burn rule applies, calls from which it applies, and from which the exact share counts.
BURN_GUIDANCE, BURN_CALLS, BURN_EXACT_CALLS = 8.0, 6, 8


def rows() -> list[dict]:
    """Every bed's committed rows (read once per version of the files: each table reads them)."""
    paths = [results_path(f"allround_{bed}.csv") for bed in BEDS]
    return _read(tuple((str(p), p.stat().st_mtime_ns) for p in paths if p.is_file()))


@functools.lru_cache(maxsize=2)
def _read(files: tuple[tuple[str, int], ...]) -> list[dict]:
    return [r for path, _ in files for r in read_results(path)]


def ranking(cells: Iterable[dict]) -> list[dict]:
    """Per sampler that ran any of ``cells``: geometric mean and worst of its scores, best first (the
    benchmark's own :func:`~.bench_allround.scores`, burn not counted)."""
    return [{"sampler": s["sampler"], "geo": s["geo_mean"], "worst": s["worst"], "cells": s["cells"],
             "worst_at": f"{s['worst_row']['group']}, {s['worst_row']['nfe']} calls"}
            for s in scores(list(cells), None) if s["cells"]]


def _split(split: str, name: str | None = None) -> list[dict]:
    return [r for r in rows() if r["split"] == split and (name is None or section(r["bed"], r["family"]) == name)]


def _label(name: str) -> str:
    return f"**`{name}`**" if name == RECOMMENDED else (f"`{name}`" if name in SAMPLER_SPECS else name)


def summary(split: str, top: int = 8) -> str:
    """Rank overall, and geo / worst per section, for the top samplers of ``split``."""
    overall = ranking(_split(split))
    per = {name: {s["sampler"]: s for s in ranking(_split(split, name))} for name in SECTIONS}
    ranks = {name: {s: i for i, s in enumerate(per[name], 1)} for name in SECTIONS}
    shown = overall[:top] + [s for s in overall[top:] if s["sampler"] in ("adaptive_3m", "ghvb", RECOMMENDED)]
    head = "| # | sampler | all sections | " + " | ".join(SECTIONS.values()) + " |"
    lines = [head, "|---" * (3 + len(SECTIONS)) + "|"]
    for s in shown:
        i = overall.index(s) + 1
        cells = []
        for name in SECTIONS:
            x = per[name].get(s["sampler"])
            cells.append("n/a" if x is None else f"{x['geo']:.2f} / {x['worst']:.1f} (#{ranks[name][s['sampler']]})")
        lines.append(f"| {i} | {_label(s['sampler'])} | {s['geo']:.2f} / {s['worst']:.1f} | " + " | ".join(cells) + " |")
    counts = {name: len({(r['group'], r['nfe']) for r in _split(split, name)}) for name in SECTIONS}
    total = sum(counts.values())
    lines.append("")
    lines.append(f"{total} cells ({', '.join(f'{SECTIONS[n]} {c}' for n, c in counts.items())}), "
                 f"{len(overall)} samplers; cell: geometric mean / worst cell (rank in the section).")
    return "\n".join(lines)


def full_ranking(split: str, name: str) -> str:
    lines = ["| # | sampler | geo-mean | worst | worst at |", "|---|---|---|---|---|"]
    for i, s in enumerate(ranking(_split(split, name)), 1):
        lines.append(f"| {i} | {_label(s['sampler'])} | {s['geo']:.2f} | {s['worst']:.1f} | {s['worst_at']} |")
    return "\n".join(lines)


def burn_check() -> list[dict]:
    """Per learned cell at guidance ≥ 8 from 6 calls: the recommended sampler's share of values far beyond
    the data range, the share of the most accurate stock sampler in the cell, and the exact solution's."""
    out = []
    cells: dict[tuple, list[dict]] = {}
    for r in rows():
        if r["bed"] != "analytic" and r["guidance"] >= BURN_GUIDANCE and r["nfe"] >= BURN_CALLS:
            cells.setdefault((r["bed"], r["split"], r["group"], r["nfe"]), []).append(r)
    for (bed, split, group, nfe), cell in sorted(cells.items()):
        mine = next((r for r in cell if r["sampler"] == RECOMMENDED), None)
        stock = [r for r in cell if r["sampler"] not in SAMPLER_SPECS and r["sampler"] != "exact"
                 and math.isfinite(r["error"])]
        if mine is None or not stock:
            continue
        best = min(stock, key=lambda r: r["error"])
        exact = mine["exact_burn"]
        # burning is going beyond the exact solution's share: compare the excess over it
        ok_stock = max(0.0, mine["burn"] - exact) <= max(0.0, best["burn"] - exact) + 0.05
        ok_exact = nfe < BURN_EXACT_CALLS or mine["burn"] <= 2 * exact + 0.05
        out.append({"bed": bed, "split": split, "group": group, "nfe": nfe, "burn": mine["burn"],
                    "stock": best["sampler"], "stock_burn": best["burn"], "exact_burn": exact,
                    "ok": ok_stock and ok_exact})
    return out


@block("allround-report")
def _report() -> str:
    return summary("report")


@block("allround-tune")
def _tune() -> str:
    return summary("tune")


def _register_sections() -> None:
    for name in SECTIONS:
        slug = name.replace(" ", "-")
        for split in ("report", "tune"):
            block(f"allround-{split}-{slug}")(lambda split=split, name=name: full_ranking(split, name))


_register_sections()


@block("allround-burn")
def _burn() -> str:
    checks = burn_check()
    lines = [f"| bed | cells | calls | {SAMPLER_SPECS[RECOMMENDED].label}, % far out | most accurate stock sampler, % "
             "| exact, % | holds |",
             "|---|---|---|---|---|---|---|"]
    for c in checks:
        lines.append(f"| {SECTIONS[c['bed']]} ({c['split']}) | {c['group']} | {c['nfe']} | {c['burn']:.2f} | "
                     f"{c['stock_burn']:.2f} ({c['stock']}) | {c['exact_burn']:.2f} | {'yes' if c['ok'] else '**no**'} |")
    held = sum(c["ok"] for c in checks)
    lines.append("")
    lines.append(f"The rule holds in {held} of {len(checks)} cells.")
    return "\n".join(lines)


@block("allround-headline")
def _headline() -> str:
    overall = ranking(_split("report"))
    mine = next(s for s in overall if s["sampler"] == RECOMMENDED)
    rank = overall.index(mine) + 1
    others = [s for s in overall if s["sampler"] != RECOMMENDED][:3]
    leaders = [ranking(_split("report", n))[:1] for n in SECTIONS]
    firsts = [SECTIONS[n] for n, top in zip(SECTIONS, leaders, strict=True) if top and top[0]["sampler"] == RECOMMENDED]
    return (f"On the held-back report cells it ranks {rank} of {len(overall)} overall (error / the cell's best, "
            f"geometric mean {mine['geo']:.2f}, worst cell {mine['worst']:.1f}); next: "
            + ", ".join(f"{s['sampler']} {s['geo']:.2f} / {s['worst']:.1f}" for s in others)
            + f". First in {len(firsts)} of {len(SECTIONS)} sections" + (f" ({', '.join(firsts)})." if firsts else "."))


@block("allround-adaptive-3m")
def _adaptive_3m() -> str:
    return sampler_line("report", "adaptive_3m")


def sampler_line(split: str, name: str) -> str:
    """One sampler's geometric mean / worst and rank, overall and per section, on ``split``."""
    parts = []
    for title, cells in [("all sections", _split(split))] + [(SECTIONS[n], _split(split, n)) for n in SECTIONS]:
        ranked = ranking(cells)
        mine = next((s for s in ranked if s["sampler"] == name), None)
        if mine is not None:
            parts.append(f"{title} {mine['geo']:.2f} / {mine['worst']:.1f} (#{ranked.index(mine) + 1} of {len(ranked)})")
    return "; ".join(parts) + "."


GUIDANCE_BANDS = (("CFG 1–4", 0.0, 4.0), ("CFG 5–8", 4.5, 8.0), ("CFG 10–15", 9.0, 99.0))


@block("allround-by-guidance")
def _by_guidance() -> str:
    """Report and tuning cells together, by guidance: the first three and where the recommended sampler is."""
    lines = [f"| cells | cells counted | first | second | third | {SAMPLER_SPECS[RECOMMENDED].label} |",
             "|---|---|---|---|---|---|"]
    for title, lo, hi in GUIDANCE_BANDS:
        cells = [r for r in rows() if lo <= r["guidance"] <= hi]
        ranked = ranking(cells)
        mine = next(s for s in ranked if s["sampler"] == RECOMMENDED)
        top = [f"{_label(s['sampler'])} {s['geo']:.2f}" for s in ranked[:3]]
        lines.append(f"| {title} | {len({(r['bed'], r['group'], r['nfe']) for r in cells})} | " + " | ".join(top)
                     + f" | #{ranked.index(mine) + 1}, {mine['geo']:.2f} |")
    return "\n".join(lines)


@block("allround-ghvb")
def _ghvb() -> str:
    return sampler_line("report", "ghvb")


@block("allround-adaptive-order")
def _adaptive_order() -> str:
    return sampler_line("report", "adaptive_order")


@block("allround-adaptive-blend")
def _adaptive_blend() -> str:
    return sampler_line("report", RECOMMENDED)


@block("allround-overhead")
def _overhead() -> str:
    """The recommended sampler's own arithmetic per step against DPM++ 2M's, from the core benchmark."""
    mine = sorted((r for r in read_json(OVERHEAD) if r["sampler"] == RECOMMENDED), key=lambda r: r["batch"])
    ratios = " and ".join(f"{r['ratio_to_dpmpp_2m']:.2f}× at batch {r['batch']}" for r in mine)
    return (f"Its own arithmetic per step is {ratios} that of k-diffusion's DPM++ 2M (model excluded), "
            f"peak {max(r['peak_extra_latents'] for r in mine):.0f} latents.")


@block("allround-blend-halves")
def _blend_halves() -> str:
    """On the report cells: Adaptive Order and GHVB each, the better of the two in every cell (which no
    sampler can know), and Adaptive Blend, which mixes them from what the model returns."""
    cells: dict[tuple, dict[str, float]] = {}
    for r in _split("report"):
        if "ratio" in r:  # not the exact solution's row
            cells.setdefault((r["bed"], r["group"], r["nfe"]), {})[r["sampler"]] = r["ratio"]
    halves = [c for c in cells.values() if "adaptive_order" in c and "ghvb" in c]
    better = _geo([min(c["adaptive_order"], c["ghvb"]) for c in halves])
    alone = {name: _geo([c[name] for c in halves]) for name in ("adaptive_order", "ghvb", RECOMMENDED)}
    return (f"On the {len(halves)} report cells: Adaptive Order {alone['adaptive_order']:.2f}, GHVB "
            f"{alone['ghvb']:.2f}, the better of the two in each cell {better:.2f}, Adaptive Blend "
            f"{alone[RECOMMENDED]:.2f} (geometric mean of error / the cell's best).")
