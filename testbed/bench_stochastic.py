"""Benchmark of the stochastic samplers against well-defined targets (docs/benchmark.md#stochastic-samplers).

Bed: the class-conditional mixture of ``gmm.py`` in d = 64 (1×8×8, 10 classes × 3 components), 6000
samples (classes in turn), 2 repeats with fresh start noise, sampler seed and target samples.

Cells (equal model calls 10 / 20 / 40; each sampler gets the most steps whose counted calls fit):

- VE latents of the SD1.5-like discrete model on Karras σ 14.6 → 0.03 and on ComfyUI's "normal"
  schedule; flow latents of a discrete flow model (shift 3) on "simple". The first latent is made as
  KSampler makes it. Model sampling, schedules and the calls are those of the all-round benchmark.
- Guidance 1: the target is the data law (exact samples). Every SDE solved exactly ends there, whatever
  its noise rate or momentum lift, so this table ranks how close each sampler comes at a budget.
- Guidance 7.5: a guided denoiser is not the score of any data law, so each SDE has its own end point.
  The target is the limit of the guided *reverse SDE* (noise rate η = 1, the SDE of Euler ancestral
  and of the stock SDE samplers at η 1): the same guided denoiser, solved with ``REFERENCE_STEPS``
  (400) steps of SDE 3M at η 1 (converged there on Gaussian data, tests/test_sde_3m.py), cached in
  ``out/``. A sampler whose SDE has another limit (a momentum lift, another
  noise rate: split_baoab and sde_3m at its default η 1 / 0.05 of ours, er_sde's noise scaler) is also
  scored against its own limit, its own 400-step solution (``own`` in the tables); both are printed.
- Score: sliced W1 (256 directions) to the target's samples minus the sampling floor (W1 between two
  target sample sets of the same size), averaged over the repeats; an excess below 5 % of the floor
  counts as 5 % of it (indistinguishable at this sample size). Ranking: excess / the cell's best excess,
  geometric mean and worst over the cells. Spread: RMS distance to the nearest component mean of the
  sample's class, divided by the target's (1 = right; < 1 over-sharpened). Burn: percent of values
  beyond the data's 99.9 % quantile of |x0| (the target's value beside it).
- Competitors: with ``COMFYUI_PATH`` naming a ComfyUI checkout, its stochastic samplers at the values
  KSampler uses (η 1), each called as KSampler calls it (``KSAMPLER.sample`` with the real model
  sampling); ours through their registered ``ms_*`` names. Without ComfyUI: k-diffusion's stochastic
  samplers (VE only but euler_ancestral, which takes ComfyUI's RF rule on flow latents).

Run: ``python benchmark.py stochastic [--guidance 1|7.5] [--schedule S] [--quick] [--repeats R] [--samples N]``
(each guidance and schedule 3–10 minutes on one core; ``--schedule`` runs part of it). Markdown to stdout; results to
docs/results/stochastic_w1.csv, stochastic_w7.5.csv and stochastic_ranking.json (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..sampling import SAMPLER_SPECS
from ..sampling.sde_multistep import sample_sde_3m
from .bench_allround import Candidate, ComfyHost, make_host
from .gmm import AnalyticDenoiser, GaussianMixture, image_mixture
from .kdiffusion import load_k_diffusion_sampling
from .reference import data_range, out_of_range_percent, sliced_wasserstein

NFES = (10, 20, 40)
GROUPS = (("karras", "ve"), ("normal", "ve"), ("simple", "flow"))
GUIDANCES = (1.0, 7.5)
REFERENCE_STEPS = 400
FLOOR_SHARE = 0.05  # an excess below this share of the floor is not resolved by the sample size
ROOT = Path(__file__).resolve().parent.parent
COMFY_STOCHASTIC = ("euler_ancestral", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun",
                    "dpmpp_3m_sde", "er_sde", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece")
#: samplers whose SDE has an end point of its own at guidance > 1, and how to solve it with many steps
OWN_LIMIT = ("er_sde",)  # its default noise scaler is not the reverse SDE's noise rate
#: ours scored against their own limits too: the momentum lift and the low noise rate (the others
#: are not, to keep the run short)
OWN_LIMIT_OURS = ("split_baoab", "sde_3m")


@dataclass
class Entry:
    """A candidate and, when its SDE is not the reverse SDE, the sampler that solves its own limit."""

    cand: Candidate
    own_limit: Candidate | None = None
    ours: bool = False


@torch.no_grad()
def euler_ancestral_rf(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, noise_sampler=None):
    """ComfyUI's RF ``euler_ancestral`` (docs/noise.md#flow-re-noising): ODE step to σ_down = σ'(1 + (σ'/σ − 1)η), then
    x ← (α'/α_down)·x + √(σ'² − σ_down²α'²/α_down²)·ξ."""
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
        denoised = model(x, sigmas[i] * s_in, **(extra_args or {}))
        if sigma_next == 0:
            x = denoised
            continue
        sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)
        alpha_next, alpha_down = 1 - sigma_next, 1 - sigma_down
        ratio = sigma_down / sigma
        x = ratio * x + (1 - ratio) * denoised
        renoise = math.sqrt(sigma_next**2 - sigma_down**2 * alpha_next**2 / alpha_down**2)
        noise = torch.randn_like(x) if noise_sampler is None else noise_sampler(sigmas[i], sigmas[i + 1])
        x = (alpha_next / alpha_down) * x + noise * renoise
    return x


def _by_family(ve_fn: Callable, flow_fn: Callable) -> Callable:
    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, model_family="ve", **kwargs):
        fn = ve_fn if model_family == "ve" else flow_fn
        return fn(model, x, sigmas, extra_args=extra_args, disable=disable, **kwargs)

    return sample


def _ours(host, name: str, kwargs: dict, label: str | None = None) -> Candidate:
    label = label or name
    if isinstance(host, ComfyHost):
        from ..nodes.naming import stock_name

        samplers = host.comfy.samplers
        sampler = samplers.ksampler(stock_name(name), kwargs) if kwargs else samplers.sampler_object(stock_name(name))
        return Candidate(label, sampler)
    spec = SAMPLER_SPECS[name]
    return Candidate(label, spec.fn, {**spec.defaults(), **kwargs}, pass_family=True)


def entries(host) -> list[Entry]:
    """Our stochastic samplers at their defaults (and SDE 3M at η 1 throughout, whose limit is the
    reverse SDE's),
    the host's stochastic samplers at η 1."""
    out = []
    for name, spec in SAMPLER_SPECS.items():
        if spec.stochastic:
            own = _ours(host, name, {}, f"{name} own limit") if name in OWN_LIMIT_OURS else None
            out.append(Entry(_ours(host, name, {}), own, ours=True))
    out.append(Entry(_ours(host, "sde_3m", {"eta_low": 1.0}, "sde_3m eta_low=1"), ours=True))
    if isinstance(host, ComfyHost):
        samplers = host.comfy.samplers
        for n in COMFY_STOCHASTIC:
            if n in samplers.KSampler.SAMPLERS:
                cand = Candidate(n, samplers.sampler_object(n))
                out.append(Entry(cand, cand if n in OWN_LIMIT else None))
        return out
    k = load_k_diffusion_sampling()
    out.append(Entry(Candidate("euler_ancestral (k-diffusion / RF rule)",
                               _by_family(k.sample_euler_ancestral, euler_ancestral_rf), pass_family=True)))
    for n in ("dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_3m_sde"):
        out.append(Entry(Candidate(f"{n} (k-diffusion)", getattr(k, f"sample_{n}"), families=("ve",))))
    out.append(Entry(Candidate("dpmpp_2m_sde_heun (k-diffusion)", k.sample_dpmpp_2m_sde, {"solver_type": "heun"},
                               families=("ve",))))
    return out


def reverse_sde(host) -> Candidate:
    """The reference solver of the guided reverse SDE: SDE 3M at η 1 (converged at 400 steps on
    Gaussian data, tests/test_sde_3m.py)."""
    return Candidate("reverse SDE", sample_sde_3m, {"eta": 1.0, "eta_low": 1.0, "order": 3}, pass_family=True)


# --- measurement ---------------------------------------------------------------------------------------


def spread(samples: torch.Tensor, mixture: GaussianMixture, classes: torch.Tensor) -> float:
    """RMS distance to the nearest component mean of the sample's class."""
    coeffs = mixture._to_coeffs(samples.double()).reshape(samples.shape[0], -1)
    dist = torch.cdist(coeffs, mixture.means)
    dist = dist.masked_fill(mixture.labels[None, :] != classes[:, None], math.inf)
    nearest = dist.argmin(dim=1)
    return math.sqrt(float((coeffs - mixture.means[nearest]).pow(2).mean()))


class Bench:
    def __init__(self, host, n: int, repeats: int, out_dir: Path, reference_steps: int = REFERENCE_STEPS) -> None:
        self.host, self.n, self.repeats, self.out_dir = host, n, repeats, out_dir
        self.reference_steps = reference_steps
        self.mixture = image_mixture(shape=(1, 8, 8))
        self.classes = torch.arange(n) % self.mixture.n_classes
        self.threshold = data_range(self.mixture.sample(20000, generator=torch.Generator().manual_seed(5)))
        self.budget: dict[tuple, int | None] = {}
        self._cache: dict[int, tuple] = {}
        g = torch.Generator().manual_seed(0)  # the directions of sliced_wasserstein(seed=0)
        self.dirs = torch.randn(self.mixture.dim, 256, generator=g, dtype=torch.float64)
        self.dirs /= self.dirs.norm(dim=0, keepdim=True)

    def noise(self, repeat: int, salt: int = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(1000 * repeat + 17 + salt)
        # float32 latents as the hosts use (ComfyUI's sa_solver refuses float64 with float32 σ's)
        return torch.randn(self.n, *self.mixture.shape, generator=g, dtype=torch.float64).float()

    def run(self, cand: Candidate, schedule: str, family: str, steps: int, w: float, noise, seed: int):
        ms = self.host.model_sampling(family)
        sigmas = self.host.base_sigmas(schedule, ms, steps)
        model = AnalyticDenoiser(self.mixture, family)
        extra = {"seed": seed, "classes": self.classes[: noise.shape[0]], "cond_scale": w}
        torch.manual_seed(seed)  # the host-free baselines draw from the global generator
        out = self.host.run(cand, model, ms, family, sigmas, noise, extra)
        return out, model.calls

    def steps_within(self, cand: Candidate, schedule: str, family: str, nfe: int) -> int | None:
        key = (cand.name, schedule, family, nfe)
        if key not in self.budget:
            lo, hi = 0, nfe
            while lo < hi:
                mid = (lo + hi + 1) // 2
                _, calls = self.run(cand, schedule, family, mid, 1.0, self.noise(0)[:1], 0)
                lo, hi = (mid, hi) if calls <= nfe else (lo, mid - 1)
            self.budget[key] = lo or None
        return self.budget[key]

    def limit(self, cand: Candidate, schedule: str, family: str, w: float, index: int) -> torch.Tensor:
        """Sample set ``index`` of ``cand``'s many-step solution (cached): its own end point."""
        # Karras and "normal" share the VE model's σ range, so one VE limit serves both
        sched = "karras" if family == "ve" else schedule
        name = cand.name.replace(" ", "_").replace("/", "_").replace("=", "")
        path = self.out_dir / "stochastic_cache" / f"{name}_{sched}_{family}_w{w:g}_n{self.n}_s{self.reference_steps}_{index}.pt"
        if path.is_file():
            return torch.load(path)
        out, _ = self.run(cand, sched, family, self.reference_steps, w, self.noise(index, salt=500), 7000 + index)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(out.double(), path)
        return out.double()

    def targets(self, schedule: str, family: str, w: float, cand: Candidate | None) -> list[tuple[torch.Tensor, float]]:
        """Per repeat, (target samples, floor): the data law at guidance 1, else the many-step solution
        of ``cand`` (the reverse SDE when None)."""
        out = []
        for r in range(self.repeats):
            if w == 1.0:
                g = torch.Generator().manual_seed(100 + r)
                a = self.mixture.sample(self.n, self.classes, generator=g)
                b = self.mixture.sample(self.n, self.classes, generator=g)
            else:
                solver = cand if cand is not None else reverse_sde(self.host)
                a, b = self.limit(solver, schedule, family, w, r), self.limit(solver, schedule, family, w, r + 1)
            out.append((a, sliced_wasserstein(a, b, p=1)))
        return out

    def _projected(self, t: torch.Tensor) -> tuple[torch.Tensor, float]:
        """The target's sorted projections (as :func:`sliced_wasserstein` draws them) and spread, once."""
        key = id(t)
        if key not in self._cache:
            self._cache[key] = (t, (t.reshape(t.shape[0], -1).double() @ self.dirs).sort(dim=0)[0],
                                spread(t, self.mixture, self.classes))
        return self._cache[key][1:]

    def w1(self, out: torch.Tensor, t: torch.Tensor) -> float:
        """sliced_wasserstein(out, t, p=1), with the target's projections computed once."""
        proj, _ = self._projected(t)
        mine = (out.reshape(out.shape[0], -1).double() @ self.dirs).sort(dim=0)[0]
        return float((mine - proj).abs().mean())

    def score(self, outs: list[torch.Tensor], targets: list[tuple[torch.Tensor, float]]) -> dict:
        w1 = [self.w1(o, t) for o, (t, _) in zip(outs, targets, strict=True)]
        floor = sum(f for _, f in targets) / len(targets)
        mean = sum(w1) / len(w1)
        if not math.isfinite(mean):
            return {"w1": math.inf, "floor": floor, "excess": math.inf, "spread": math.nan}
        sp = sum(spread(o, self.mixture, self.classes) / self._projected(t)[1]
                 for o, (t, _) in zip(outs, targets, strict=True)) / len(outs)
        return {"w1": mean, "floor": floor, "excess": max(mean - floor, FLOOR_SHARE * floor), "spread": sp}


def evaluate(bench: Bench, ents: list[Entry], guidances=GUIDANCES, groups=GROUPS,
             log: Callable[[str], None] = print) -> list[dict]:
    rows = []
    for w in guidances:
        for schedule, family in groups:
            start = time.perf_counter()
            target = bench.targets(schedule, family, w, None)
            target_burn = sum(out_of_range_percent(t, bench.threshold) for t, _ in target) / len(target)
            for e in ents:
                if family not in e.cand.families:
                    continue
                own = bench.targets(schedule, family, w, e.own_limit) if (w != 1.0 and e.own_limit) else None
                for nfe in NFES:
                    base = {"guidance": w, "schedule": schedule, "family": family, "sampler": e.cand.name, "nfe": nfe,
                            "ours": e.ours, "target_burn": target_burn}
                    try:
                        steps = bench.steps_within(e.cand, schedule, family, nfe)
                        if steps is None:
                            continue
                        outs, calls = [], 0
                        for r in range(bench.repeats):
                            out, calls = bench.run(e.cand, schedule, family, steps, w, bench.noise(r), 3 + r)
                            outs.append(out.double())
                    except Exception as err:  # a sampler that cannot run this cell is reported, not fatal
                        rows.append({**base, "steps": 0, "calls": 0, "note": f"error: {type(err).__name__}: {err}"})
                        continue
                    outs = [torch.nan_to_num(o, nan=1e6, posinf=1e6, neginf=-1e6) for o in outs]
                    row = {**base, "steps": steps, "calls": calls, **bench.score(outs, target),
                           "burn": sum(out_of_range_percent(o, bench.threshold) for o in outs) / len(outs)}
                    if own is not None:
                        mine = bench.score(outs, own)
                        row.update({"own_w1": mine["w1"], "own_floor": mine["floor"], "own_excess": mine["excess"],
                                    "own_spread": mine["spread"]})
                    rows.append(row)
            log(f"  guidance {w:g}, {schedule} {family}: {time.perf_counter() - start:.0f} s", flush=True)
    return rows


# --- tables --------------------------------------------------------------------------------------------


def _cells(rows: list[dict], w: float, key: str = "excess") -> dict[tuple, list[tuple[str, float]]]:
    cells: dict[tuple, list[tuple[str, float]]] = {}
    for r in rows:
        if r["guidance"] == w and key in r and r.get(key) is not None:
            cells.setdefault((r["schedule"], r["family"], r["nfe"]), []).append((r["sampler"], r[key]))
    return cells


def ranking(rows: list[dict], w: float) -> list[dict]:
    """Excess / the cell's best excess, geometric mean and worst over the cells, best first."""
    ratios: dict[str, list[float]] = {}
    best_in: dict[str, int] = {}
    cells = _cells(rows, w)
    for cell in cells.values():
        best = min(v for _, v in cell)
        for name, v in cell:
            ratios.setdefault(name, []).append(v / best if math.isfinite(v) else 1000.0)
            # every sampler at the cell's best counts: many tie at the resolution (5 % of the floor), and
            # crediting only the first listed would favour whichever the table lists first
            if v == best:
                best_in[name] = best_in.get(name, 0) + 1
    out = []
    for name, vs in ratios.items():
        geo = math.exp(sum(math.log(v) for v in vs) / len(vs))
        out.append({"sampler": name, "geo": geo, "worst": max(vs), "first_in": best_in.get(name, 0),
                    "cells": len(vs), "of": len(cells)})
    return sorted(out, key=lambda d: (round(d["geo"], 6), d["worst"], d["sampler"]))


def markdown(rows: list[dict]) -> str:
    out = []
    for w in sorted({r["guidance"] for r in rows}):
        target = "the data law" if w == 1.0 else "the guided reverse SDE's limit"
        out.append(f"\n## Guidance {w:g}: target {target}\n")
        out.append("| # | sampler | excess / best, geo-mean | worst | first in | cells |")
        out.append("|---|---|---|---|---|---|")
        for i, r in enumerate(ranking(rows, w), 1):
            out.append(f"| {i} | {r['sampler']} | {r['geo']:.2f} | {r['worst']:.1f} | {r['first_in']} | {r['cells']}/{r['of']} |")
        for schedule, family in GROUPS:
            if not any(r["guidance"] == w and r["schedule"] == schedule for r in rows):
                continue
            out.append(f"\n### {schedule} ({family}), guidance {w:g}: excess W1 over floor / spread / burn %"
                       + (" (own limit: excess / spread)" if w != 1.0 else "") + "\n")
            out.append("| sampler | " + " | ".join(f"{n} calls" for n in NFES) + " |")
            out.append("|---|" + "---|" * len(NFES))
            table: dict[str, dict[int, dict]] = {}
            floor = None
            for r in rows:
                if r["guidance"] == w and r["schedule"] == schedule and r["family"] == family:
                    table.setdefault(r["sampler"], {})[r["nfe"]] = r
                    floor = r.get("floor", floor)
            for name, cells in table.items():
                text = []
                for n in NFES:
                    c = cells.get(n)
                    if c is None or "excess" not in c:
                        text.append("n/a" if c is None else "error")
                        continue
                    cell = f"{c['excess']:.4f} / {c['spread']:.2f} / {c['burn']:.2f}"
                    if "own_excess" in c:
                        cell += f" (own {c['own_excess']:.4f} / {c['own_spread']:.2f})"
                    text.append(cell)
                out.append(f"| {name} | " + " | ".join(text) + " |")
            if floor is not None:
                burn = next(r["target_burn"] for r in rows if r["guidance"] == w and r["schedule"] == schedule)
                out.append(f"\nfloor (W1 between two target sets): {floor:.4f}; target burn {burn:.2f} %")
    return "\n".join(out)


KEYS = ["guidance", "schedule", "family", "sampler", "ours", "nfe", "steps", "calls", "w1", "floor", "excess",
        "spread", "burn", "target_burn", "own_w1", "own_floor", "own_excess", "own_spread", "note"]


def read_results(out_dir: Path) -> list[dict]:
    """The rows of every ``stochastic_w*.csv`` in ``out_dir``, numbers as numbers."""
    rows = []
    for path in sorted(out_dir.glob("stochastic_w*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                row = {}
                for k, v in r.items():
                    if v == "":
                        continue
                    if k in ("nfe", "steps", "calls"):
                        row[k] = int(v)
                    elif k in ("sampler", "schedule", "family", "note"):
                        row[k] = v
                    elif k == "ours":
                        row[k] = v == "True"
                    else:
                        row[k] = float(v)
                rows.append(row)
    return rows


def write_results(rows: list[dict], meta: dict, out_dir: Path) -> None:
    """One CSV per guidance (``stochastic_w1.csv``, ``stochastic_w7.5.csv``), so the two halves can run
    separately, and ``stochastic_ranking.json`` from every CSV there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ran = {(r["guidance"], r["schedule"]) for r in rows}
    # a run of some schedules replaces only their rows
    kept = [r for r in read_results(out_dir) if (r["guidance"], r["schedule"]) not in ran and r["guidance"] in
            {w for w, _ in ran}]
    for w in sorted({r["guidance"] for r in rows}):
        with (out_dir / f"stochastic_w{w:g}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=KEYS, extrasaction="ignore")
            writer.writeheader()
            for r in kept + rows:
                if r["guidance"] == w:
                    writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    write_ranking(out_dir, {f"{w:g} {sched}": meta for w, sched in sorted(ran)})


def write_ranking(out_dir: Path, runs: dict | None = None) -> None:
    """``stochastic_ranking.json`` from every ``stochastic_w*.csv`` in ``out_dir``, the runs' details kept."""
    every = read_results(out_dir)
    ranking_file = out_dir / "stochastic_ranking.json"
    summary = json.loads(ranking_file.read_text(encoding="utf-8")) if ranking_file.is_file() else {}
    summary.setdefault("runs", {}).update(runs or {})
    summary["ranking"] = {f"{w:g}": ranking(every, w) for w in sorted({r["guidance"] for r in every})}
    ranking_file.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


def public_host(name: str) -> str:
    """The host's name without where it lies on this machine: the results are published."""
    return re.sub(r" \(/[^)]*\)", "", name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="benchmark.py stochastic", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1000 samples, 1 repeat, 200 reference steps")
    parser.add_argument("--samples", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--guidance", type=float, choices=GUIDANCES, action="append",
                        help="run only this guidance (repeatable; default both)")
    parser.add_argument("--schedule", choices=[g[0] for g in GROUPS], action="append",
                        help="run only this schedule (repeatable; default all); its rows replace those in the results")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results"), help="where the results files go")
    parser.add_argument("--cache", default="out", help="where the many-step limits are cached")
    if argv is None:  # ``python benchmark.py stochastic [options]``
        argv = sys.argv[2:] if sys.argv[1:2] == ["stochastic"] else sys.argv[1:]
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    host = make_host()
    n, repeats, ref_steps = (1000, 1, 200) if args.quick else (args.samples, args.repeats, REFERENCE_STEPS)
    bench = Bench(host, n, repeats, Path(args.cache), ref_steps)
    groups = tuple(g for g in GROUPS if not args.schedule or g[0] in args.schedule)
    rows = evaluate(bench, entries(host), tuple(args.guidance or GUIDANCES), groups)
    print("# Stochastic samplers: W1 above the sampling floor, spread and burn at equal model calls")
    print(f"\n{host.name}; {n} samples × {repeats} repeats; d = 64 class mixture; limits from {ref_steps} steps")
    print(markdown(rows))
    seconds = time.perf_counter() - start
    print(f"\n({seconds:.0f} s on one thread)")
    if not args.quick:
        write_results(rows, {"host": public_host(host.name), "samples": n, "repeats": repeats, "reference_steps": ref_steps,
                             "seconds": round(seconds)}, Path(args.out))


# --- generated blocks (testbed/published.py) -------------------------------------------------------------

RESULTS = ROOT / "docs" / "results"
GROUP_NAMES = {"karras": "Karras (VE)", "normal": '"normal" (VE)', "simple": '"simple" (flow)'}
TARGETS = {1.0: "the data law", 7.5: "the guided reverse SDE's limit"}
#: the columns of the per-cell tables: ours that are recommended, and the stock sampler they replace
CELL_COLUMNS = ("sde_3m", "split_baoab", "euler_ancestral")
OURS = ("sde_3m", "split_baoab", "split_obab", "split_oba", "split_bao", "ams")


def _summary() -> dict:
    return json.loads((RESULTS / "stochastic_ranking.json").read_text(encoding="utf-8"))


def _name(sampler: str) -> str:
    return f"**`{sampler}`**" if sampler in SAMPLER_SPECS else sampler


def _num(v: float) -> str:
    return f"{v:.2g}" if v < 0.001 else f"{v:.3g}"


def ranking_table(w: float, ranking_file: Path | None = None) -> str:
    """The ranking at guidance ``w`` from docs/results/stochastic_ranking.json, as a markdown table."""
    summary = json.loads(ranking_file.read_text(encoding="utf-8")) if ranking_file else _summary()
    lines = ["| # | sampler | excess W1 / best, geometric mean | worst | first in | cells |", "|---|---|---|---|---|---|"]
    for i, r in enumerate(summary["ranking"][f"{w:g}"], 1):
        lines.append(f"| {i} | {_name(r['sampler'])} | {r['geo']:.2f} | {r['worst']:.1f} | {r['first_in']} | "
                     f"{r['cells']}/{r['of']} |")
    return "\n".join(lines)


def setup_line(rows: list[dict] | None = None) -> str:
    """Which host the committed results come from, their size and the sampling floors."""
    rows = read_results(RESULTS) if rows is None else rows
    runs = _summary()["runs"]
    hosts = sorted({public_host(m["host"]) for m in runs.values()})
    meta = next(iter(runs.values()))
    floors = []
    for w in sorted({r["guidance"] for r in rows}):
        per = {}
        for r in rows:
            if r["guidance"] == w and "floor" in r:
                per.setdefault(r["schedule"], r["floor"])
        vals = sorted(set(round(v, 4) for v in per.values()))
        floors.append(f"{_num(vals[0])}" + (f"–{_num(vals[-1])}" if len(vals) > 1 else "") + f" at guidance {w:g}")
    return (f"Host: {' and '.join(hosts)}; {meta['samples']} samples × {meta['repeats']} repeats, limits from "
            f"{meta['reference_steps']} steps; sampling floor (W1 between two target sets) {', '.join(floors)}.")


def _by_cell(rows: list[dict], w: float) -> dict[tuple, dict[str, dict]]:
    cells: dict[tuple, dict[str, dict]] = {}
    for r in rows:
        if r["guidance"] == w and "excess" in r:
            cells.setdefault((r["schedule"], r["nfe"]), {})[r["sampler"]] = r
    return cells


def _closest(cell: dict[str, dict]) -> tuple[float, list[str]]:
    best = min(r["excess"] for r in cell.values())
    return best, [n for n, r in cell.items() if r["excess"] == best]


def cells_table(w: float, rows: list[dict] | None = None) -> str:
    """Per cell: the closest sampler(s) and the excess W1 / spread of SDE 3M, BAOAB and Euler ancestral
    (at guidance > 1 with the distance to the sampler's own limit where measured)."""
    rows = read_results(RESULTS) if rows is None else rows
    cells = _by_cell(rows, w)
    lines = ["| schedule | calls | closest: excess W1 | " + " | ".join(f"`{c}`" if c in SAMPLER_SPECS else c
                                                                   for c in CELL_COLUMNS) + " |",
             "|---|---|---|" + "---|" * len(CELL_COLUMNS)]
    for schedule, _ in GROUPS:
        for nfe in NFES:
            cell = cells.get((schedule, nfe))
            if not cell:
                continue
            best, names = _closest(cell)
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            out = []
            for c in CELL_COLUMNS:
                r = cell.get(c)
                if r is None:
                    out.append("n/a")
                    continue
                text = f"{_num(r['excess'])} / {r['spread']:.2f}"
                if "own_excess" in r:
                    text += f" (own {_num(r['own_excess'])})"
                out.append(text)
            lines.append(f"| {GROUP_NAMES[schedule]} | {nfe} | {shown}: {_num(best)} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def sampler_summary(name: str, rows: list[dict] | None = None) -> str:
    """One sampler's place in both rankings, the first of each, and its spread range at guidance 1."""
    rows = read_results(RESULTS) if rows is None else rows
    parts = []
    for w, ranked in sorted(_summary()["ranking"].items(), key=lambda kv: float(kv[0])):
        place = next((i for i, r in enumerate(ranked, 1) if r["sampler"] == name), None)
        if place is None:
            continue
        r, first = ranked[place - 1], ranked[0]
        lead = "" if place == 1 else f"; first: {first['sampler']}, {first['geo']:.2f}"
        parts.append(f"guidance {w} (target: {TARGETS[float(w)]}): {place} of {len(ranked)}, excess W1 / the "
                     f"cell's best {r['geo']:.2f} (geometric mean; worst {r['worst']:.1f}), closest in "
                     f"{r['first_in']} of {r['of']} cells{lead}")
    spreads = {}
    for r in rows:
        if r["sampler"] == name and r["guidance"] == 1.0 and "spread" in r:
            spreads.setdefault(r["nfe"], []).append(r["spread"])
    text = "Ranked at " + "; at ".join(parts) + "."
    if spreads:
        text += " Spread at guidance 1 (1 = exact): " + ", ".join(
            f"{min(v):.2f}–{max(v):.2f} at {n} calls" for n, v in sorted(spreads.items())) + "."
    return text


def losses(name: str, w: float, rows: list[dict] | None = None) -> str:
    """The cells where another sampler is closer than ``name``: which, and both excesses."""
    rows = read_results(RESULTS) if rows is None else rows
    out = []
    for (schedule, nfe), cell in sorted(_by_cell(rows, w).items(),
                                        key=lambda kv: ([g for g, _ in GROUPS].index(kv[0][0]), kv[0][1])):
        if name not in cell:
            continue
        best, names = _closest(cell)
        mine = cell[name]["excess"]
        if mine > best:
            out.append(f"{GROUP_NAMES[schedule]} at {nfe} calls, {', '.join(names[:3])} {_num(best)} against "
                       f"{_num(mine)}")
    if not out:
        return f"`{name}` is the closest (or tied at the resolution) in every cell at guidance {w:g}."
    return f"Cells where another sampler is closer than `{name}` at guidance {w:g}: " + "; ".join(out) + "."


def _register_blocks() -> None:
    from .published import block

    block("stochastic-ranking-w1")(lambda: ranking_table(1.0))
    block("stochastic-ranking-w7.5")(lambda: ranking_table(7.5))
    block("stochastic-setup")(setup_line)
    for w in GUIDANCES:
        block(f"stochastic-cells-w{w:g}")(lambda w=w: cells_table(w))
        block(f"stochastic-losses-sde_3m-w{w:g}")(lambda w=w: losses("sde_3m", w))
    for name in OURS:
        block(f"stochastic-summary-{name}")(lambda name=name: sampler_summary(name))


_register_blocks()
