"""Benchmark of the deterministic samplers (docs/testbed.md, results in docs/benchmark.md).

1. Overhead: each deterministic sampler's own per-step arithmetic (run time minus a one-pass model's),
   on 1×4×128×128 and 4×4×128×128 float32 latents (batch 1 and 4), as a ratio to k-diffusion's
   ``sample_dpmpp_2m`` timed interleaved in the same run; and the peak memory in latents.
2. Accuracy and divergence: error against the exact ODE solution and saturation (% of values beyond
   the data range) vs steps at guidance 1, 7.5 and 15 on the analytic Gaussian-mixture model, for
   every sampler (its defaults and β = 1) and k-diffusion's euler / dpmpp_2m / lms.

Run: ``python benchmark.py core`` (a few minutes on one core). Markdown to stdout; the results to
docs/results/bench_core.json and the overhead rows again to docs/results/core_overhead.json, which
``python benchmark.py publish`` renders into the docs.
"""

from __future__ import annotations

import statistics
import time
import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from ..sampling import SAMPLER_SPECS
from .gmm import AnalyticDenoiser, image_mixture
from .kdiffusion import load_k_diffusion_sampling
from .published import CORE, OVERHEAD, save_results
from .reference import data_range, out_of_range_percent, reference_solution, rms_error

OVERHEAD_SHAPES = ((1, 4, 128, 128), (4, 4, 128, 128))
GUIDANCES = (1.0, 7.5, 15.0)
STEPS = (5, 8, 10, 15, 20, 30)


def deterministic_runs() -> dict[str, tuple[Callable, dict]]:
    """Every deterministic registry sampler at its defaults and at β = 1, plus the k-diffusion baselines."""
    k = load_k_diffusion_sampling()
    runs: dict[str, tuple[Callable, dict]] = {
        "euler (k-diffusion)": (k.sample_euler, {}),
        "lms (k-diffusion)": (k.sample_lms, {}),
        "dpmpp_2m (k-diffusion)": (k.sample_dpmpp_2m, {}),
    }
    for name, spec in SAMPLER_SPECS.items():
        if spec.stochastic:
            continue
        defaults = spec.defaults()
        runs[name + " " + ", ".join(f"{k}={v}" for k, v in defaults.items())] = (spec.fn, defaults)
        if "beta" in defaults:
            runs[name + " beta=1"] = (spec.fn, {**defaults, "beta": 1.0})
    return runs


class PeakLiveTensors(TorchDispatchMode):
    """Tracks the peak bytes of tensors created inside the mode and still alive (storages deduplicated)."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, weakref.ref] = {}
        self.peak = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.live[id(t)] = weakref.ref(t)
        alive = [t for t in (ref() for ref in self.live.values()) if t is not None]
        self.live = {id(t): weakref.ref(t) for t in alive}
        storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in alive}
        self.peak = max(self.peak, sum(storages.values()))
        return out


def identity_model(x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
    return x


def copy_model(x: torch.Tensor, sigma: torch.Tensor, **kwargs) -> torch.Tensor:
    """A model that costs one latent pass and returns a new tensor (real models never alias x)."""
    return x * 0.5


def overhead(repeats: int = 9, steps: int = 30) -> list[dict]:
    """Per-step time of each deterministic sampler's own arithmetic (its run minus the model calls, with
    a one-pass model that returns a new tensor) against k-diffusion's dpmpp_2m, at batch 1 and batch 4;
    repeats interleaved and medians taken, so drifts in machine load hit every sampler alike; and the
    peak memory in latents."""
    k = load_k_diffusion_sampling()
    runs = {"dpmpp_2m (k-diffusion)": (k.sample_dpmpp_2m, {})}
    runs.update({name: (spec.fn, spec.defaults()) for name, spec in SAMPLER_SPECS.items() if not spec.stochastic})
    sigmas = k.get_sigmas_karras(steps, 0.03, 14.6)

    def model_only(model, x, sigmas, disable=True):
        for s in sigmas[:-1]:
            model(x, s.expand(x.shape[0]))

    rows = []
    for shape in OVERHEAD_SHAPES:
        x = torch.randn(*shape) * 14.6
        timed = {"model": (model_only, {}), **runs}
        times = {name: [] for name in timed}
        for _ in range(repeats):
            for name, (fn, params) in timed.items():
                start = time.perf_counter()
                fn(copy_model, x, sigmas, disable=True, **params)
                times[name].append((time.perf_counter() - start) / steps)
        model_time = statistics.median(times["model"])
        base = statistics.median(times["dpmpp_2m (k-diffusion)"]) - model_time
        for name, (fn, params) in runs.items():
            with PeakLiveTensors() as mode:
                fn(copy_model, x, sigmas, disable=True, **params)
            per_step = statistics.median(times[name]) - model_time
            rows.append({
                "shape": "×".join(map(str, shape)),
                "batch": shape[0],
                "sampler": name,
                "us_per_step": per_step * 1e6,
                "ratio_to_dpmpp_2m": per_step / base,
                "peak_extra_latents": mode.peak / x.nbytes,
            })
    return rows


def accuracy(samples: int = 128, shape: tuple[int, int, int] = (4, 16, 16)) -> list[dict]:
    """Error vs the exact ODE solution and saturation, for every run, guidance and step count."""
    k = load_k_diffusion_sampling()
    mixture = image_mixture(shape=shape)
    model = AnalyticDenoiser(mixture)
    threshold = data_range(mixture.sample(20000, generator=torch.Generator().manual_seed(5)))
    x = torch.randn(samples, *shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 14.6
    classes = torch.arange(samples) % mixture.n_classes
    rows = []
    for w in GUIDANCES:
        extra = {"classes": classes, "cond_scale": w}
        end = reference_solution(model, x, 14.6, 0.03, steps=400, extra_args=extra)
        reference = model(end, torch.full((samples,), 0.03, dtype=torch.float64), **extra)
        rows.append({"guidance": w, "sampler": "exact ODE solution", "steps": 0, "error": 0.0,
                     "saturation": out_of_range_percent(reference, threshold)})
        for name, (fn, params) in deterministic_runs().items():
            for n in STEPS:
                sigmas = k.get_sigmas_karras(n, 0.03, 14.6, rho=7.0).double()
                out = fn(model, x, sigmas, extra_args=extra, disable=True, **params)
                rows.append({"guidance": w, "sampler": name, "steps": n, "error": rms_error(out, reference),
                             "saturation": out_of_range_percent(out, threshold)})
    return rows


def markdown_overhead(rows: list[dict]) -> str:
    lines = ["| latent | sampler | µs/step | × dpmpp_2m | peak extra (latents) |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['shape']} | {r['sampler']} | {r['us_per_step']:.0f} | {r['ratio_to_dpmpp_2m']:.2f} | "
                     f"{r['peak_extra_latents']:.1f} |")
    return "\n".join(lines)


def markdown_accuracy(rows: list[dict], metric: str) -> str:
    header = "| w | sampler | " + " | ".join(f"n={n}" for n in STEPS) + " |"
    lines = [header, "|" + "---|" * (len(STEPS) + 2)]
    table: dict[tuple[float, str], dict[int, float]] = {}
    for r in rows:
        if r["steps"]:
            table.setdefault((r["guidance"], r["sampler"]), {})[r["steps"]] = r[metric]
    for (w, name), values in table.items():
        lines.append(f"| {w:g} | {name} | " + " | ".join(f"{values[n]:.3g}" for n in STEPS) + " |")
    exact = [f"w={r['guidance']:g}: {r['saturation']:.2f}" for r in rows if r["steps"] == 0]
    if metric == "saturation":
        lines.append("\nExact ODE solution's saturation: " + ", ".join(exact))
    return "\n".join(lines)


def main() -> None:
    torch.set_num_threads(1)
    over = overhead()
    print("## Per-step overhead (model excluded), float32, one thread\n")
    print(markdown_overhead(over))
    acc = accuracy()
    print("\n## Error vs the exact ODE solution (mean per-sample RMS; data pixel std 0.5), d = 1024, 128 samples\n")
    print(markdown_accuracy(acc, "error"))
    print("\n## Saturation: % of values beyond the data range\n")
    print(markdown_accuracy(acc, "saturation"))
    save_results(CORE, {"overhead": over, "accuracy": acc})
    save_results(OVERHEAD, over)
