"""One source per published number: generated blocks in the docs, rendered from committed results.

A number quoted in README.md, docs/*.md or docs/help/*.md sits between

    <!-- generated: NAME -->
    ...
    <!-- /generated -->

and is rendered by the function registered under NAME from a results file in ``docs/results/``
(written by a benchmark). ``python benchmark.py publish`` rewrites every block;
``tests/test_published.py`` fails when a block differs from what its results give, or names a block
nobody registered. Registering a block:

    from .published import block, read_json

    @block("my-table")
    def my_table() -> str:
        rows = read_json("my_bench.json")
        return "| ... |"

in a module listed in ``MODULES`` (add yours there). The help pages (``tools/help_pages.py``) fill the
same blocks in the texts they copy from ``docs/help/``.
"""

from __future__ import annotations

import csv
import importlib
import json
import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"

# Modules whose @block functions are published; each is imported by ``blocks()``.
MODULES = (
    "momentum_samplers.testbed.published",
    "momentum_samplers.testbed.bench_stochastic",
    "momentum_samplers.testbed.allround_tables",
)

_BLOCKS: dict[str, Callable[[], str]] = {}
# A block may be indented (inside a list item); its lines are then indented alike.
_BLOCK = re.compile(r"^([ \t]*)(<!-- generated: ([A-Za-z0-9_.-]+) -->\n)(.*?)(^[ \t]*<!-- /generated -->)", re.S | re.M)
_NAME = re.compile(r"^[ \t]*<!-- generated: ([^ ]*) -->", re.M)


def block(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register ``fn() -> markdown`` as the generated block ``name``."""

    def register(fn: Callable[[], str]) -> Callable[[], str]:
        if name in _BLOCKS and _BLOCKS[name] is not fn:
            raise ValueError(f"generated block {name!r} is registered twice")
        _BLOCKS[name] = fn
        return fn

    return register


def blocks() -> dict[str, Callable[[], str]]:
    """Every registered block, after importing the modules of ``MODULES``."""
    for module in MODULES:
        importlib.import_module(module)
    return dict(_BLOCKS)


def results_path(name: str) -> Path:
    return RESULTS / name


def read_json(name: str):
    """A results file of ``docs/results/``, parsed."""
    return json.loads(results_path(name).read_text(encoding="utf-8"))


def read_csv(name: str) -> list[dict[str, str]]:
    with results_path(name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def save_results(name: str, data) -> Path:
    """Write a benchmark's results to ``docs/results/<name>`` (JSON, or CSV for a list of dicts)."""
    path = results_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".csv"):
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(data[0]))
            writer.writeheader()
            writer.writerows(data)
    else:
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def target_files() -> list[Path]:
    """The files whose generated blocks are published."""
    docs = ROOT / "docs"
    return [ROOT / "README.md", *sorted(docs.glob("*.md")), *sorted((docs / "help").glob("*.md"))]


def fill(text: str, registry: dict[str, Callable[[], str]] | None = None) -> tuple[str, list[str]]:
    """``text`` with every generated block rendered, and the names of unknown or malformed blocks."""
    registry = blocks() if registry is None else registry
    problems = [f"malformed block marker: {m.group(0)}" for m in _NAME.finditer(text)
                if not re.fullmatch(r"[A-Za-z0-9_.-]+", m.group(1))]
    cache: dict[str, str] = {}

    def render(m: re.Match) -> str:
        indent, name = m.group(1), m.group(3)
        if name not in registry:
            problems.append(f"unknown generated block {name!r}")
            return m.group(0)
        if name not in cache:
            cache[name] = registry[name]().strip("\n")
        body = "".join(f"{indent}{line}\n" if line else "\n" for line in cache[name].split("\n"))
        return indent + m.group(2) + body + m.group(5)

    out = _BLOCK.sub(render, text)
    # markers count only on their own lines: prose may quote them in backticks
    opened = len(re.findall(r"^[ \t]*<!-- generated: ", text, re.M))
    closed = len(re.findall(r"^[ \t]*<!-- /generated -->", text, re.M))
    if opened != closed or opened != len(_BLOCK.findall(text)):
        problems.append(f"{opened} block openings, {closed} closings: every block needs both, on their own lines")
    return out, problems


def stale(files: list[Path] | None = None) -> list[str]:
    """Each file whose blocks differ from their results, or that names an unknown block."""
    registry = blocks()
    problems = []
    for path in target_files() if files is None else files:
        text = path.read_text(encoding="utf-8")
        new, issues = fill(text, registry)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        problems += [f"{rel}: {p}" for p in issues]
        if new != text:
            problems.append(f"{rel}: generated blocks are stale")
    return problems


def publish(files: list[Path] | None = None) -> list[Path]:
    """Rewrite every block; return the files that changed. Unknown blocks raise."""
    registry = blocks()
    changed = []
    for path in target_files() if files is None else files:
        text = path.read_text(encoding="utf-8")
        new, issues = fill(text, registry)
        if issues:
            raise ValueError(f"{path}: " + "; ".join(issues))
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


# --- blocks of this module: the deterministic benchmark (benchmark.py core) and the registry -------

CORE = "bench_core.json"  # {"overhead": [...], "accuracy": [...]} as testbed/bench_core.py writes it


def _accuracy(guidance: float) -> dict[str, dict[int, dict]]:
    table: dict[str, dict[int, dict]] = {}
    for r in read_json(CORE)["accuracy"]:
        if r["guidance"] == guidance and r["steps"]:
            table.setdefault(r["sampler"], {})[r["steps"]] = r
    return table


def _exact_saturation(guidance: float) -> float:
    return next(r["saturation"] for r in read_json(CORE)["accuracy"]
                if r["guidance"] == guidance and r["steps"] == 0)


def _grid(guidance: float, metric: str) -> str:
    table = _accuracy(guidance)
    steps = sorted(next(iter(table.values())))
    lines = ["| w | sampler | " + " | ".join(f"n={n}" for n in steps) + " |", "|" + "---|" * (len(steps) + 2)]
    for name, values in table.items():
        lines.append(f"| {guidance:g} | {name} | " + " | ".join(f"{values[n][metric]:.3g}" for n in steps) + " |")
    return "\n".join(lines)


def _run(table: dict[str, dict[int, dict]], prefix: str) -> dict[int, dict]:
    """The run whose label is the sampler at its defaults (``name order=…``) or exactly ``prefix``."""
    matches = [k for k in table if k == prefix or (k.startswith(prefix + " ") and not k.endswith(" beta=1"))]
    if len(matches) != 1:
        raise KeyError(f"{prefix!r} matches {matches} in {CORE}")
    return table[matches[0]]


@block("core-error-w15")
def core_error_w15() -> str:
    return _grid(15.0, "error")


@block("core-saturation-w15")
def core_saturation_w15() -> str:
    return (f"Saturation at guidance 15 (% of values beyond the data range; the exact solution's is "
            f"{_exact_saturation(15.0):.2f} %):\n\n" + _grid(15.0, "saturation"))


OVERHEAD = "core_overhead.json"  # the overhead rows of bench_core.json, as testbed/bench_core.py writes them


@block("core-overhead")
def core_overhead() -> str:
    """Per-step overhead against k-diffusion's dpmpp_2m, batch 1 and batch 4 side by side, every sampler."""
    rows: dict[str, dict[int, dict]] = {}
    for r in read_json(OVERHEAD):
        rows.setdefault(r["sampler"], {})[r["batch"]] = r
    batches = sorted({b for by_batch in rows.values() for b in by_batch})
    shapes = {b: next(r["shape"] for by_batch in rows.values() for r in by_batch.values() if r["batch"] == b)
              for b in batches}
    lines = ["| sampler | " + " | ".join(f"batch {b} ({shapes[b]}): µs/step | × dpmpp_2m" for b in batches)
             + " | peak extra (latents) |", "|---|" + "---|---|" * len(batches) + "---|"]
    for name, by_batch in rows.items():
        cells = [f"{by_batch[b]['us_per_step']:.0f} | {by_batch[b]['ratio_to_dpmpp_2m']:.2f}" for b in batches]
        peak = max(r["peak_extra_latents"] for r in by_batch.values())
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {peak:.1f} |")
    return "\n".join(lines)


@block("divergence-headline")
def divergence_headline() -> str:
    """The README's headline: each momentum sampler against its β = 1 solver at guidance 15, 8 steps."""
    table = _accuracy(15.0)
    pairs = (("plms_hb", "PLMS HB", "PLMS-4"), ("dpmpp_2m_hb", "DPM++ 2M HB", "DPM++ 2M"),
             ("unipc_hb", "UniPC HB", "UniPC"))
    parts = [f"{_run(table, name)[8]['error']:.3g} for {ours} vs {table[name + ' beta=1'][8]['error']:.3g} for {stock}"
             for name, ours, stock in pairs]
    return "Benchmark headline (d = 1024, guidance 15, 8 steps): error " + ", ".join(parts) + "."


@block("core-guidance-1")
def core_guidance_1() -> str:
    """The guidance-1 paragraph of docs/benchmark.md: nothing diverges, the high-order methods win."""
    table = _accuracy(1.0)
    sats = [r["saturation"] for runs in table.values() for r in runs.values()]
    at10 = {label: runs[10]["error"] for label, runs in table.items()}
    plms4 = table["plms_hb beta=1"][10]["error"]
    return (f"At guidance 1 every sampler is stable (saturation {min(sats):.2g}–{max(sats):.2g} %, exact "
            f"{_exact_saturation(1.0):.2f} %) and the high-order methods are the more accurate ones (10 steps: "
            f"GHVB 2.5 {_run(table, 'ghvb')[10]['error']:.2g}, PLMS-4 {plms4:.2g}, "
            f"DPM++ 2M {at10['dpmpp_2m (k-diffusion)']:.2g}, against DPM++ 2M HB "
            f"{_run(table, 'dpmpp_2m_hb')[10]['error']:.2g} and Euler {at10['euler (k-diffusion)']:.2g}): "
            "heavy-ball momentum costs accuracy where nothing diverges, while GHVB keeps its order with β < 1.")


def _sampler_w15_sentence(name: str) -> str:
    table = _accuracy(15.0)
    mine, plain = _run(table, name), table[name + " beta=1"]
    steps = (5, 8, 10)
    err = " / ".join(f"{mine[n]['error']:.2g}" for n in steps)
    plain_err = " / ".join(f"{plain[n]['error']:.2g}" for n in steps)
    sat = " / ".join(f"{mine[n]['saturation']:.1f}" for n in steps)
    plain_sat = " / ".join(f"{plain[n]['saturation']:.0f}" for n in steps)
    return (f"At guidance 15 its error against the exact solution is {err} at 5 / 8 / 10 steps against "
            f"{plain_err} at β = 1, with {sat} % of values burnt against {plain_sat} % (the exact solution "
            f"has {_exact_saturation(15.0):.2f} %).")


def _register_sampler_sentences() -> None:
    from ..sampling import SAMPLER_SPECS

    for name, spec in SAMPLER_SPECS.items():
        if not spec.stochastic and any(p.name == "beta" for p in spec.params):
            block(f"core-w15-{name}")(lambda name=name: _sampler_w15_sentence(name))


_register_sampler_sentences()


@block("a1111-labels")
def a1111_labels() -> str:
    """The *Sampling method* labels and aliases, from the registry."""
    from ..sampling import SAMPLER_SPECS

    return "\n".join(f"- \"{spec.label}\" (alias `{name}`)" for name, spec in SAMPLER_SPECS.items())
