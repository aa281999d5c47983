"""The main job on the built-in default: the analytic guided model (an exact Gaussian-mixture denoiser
with classifier-free guidance, latents 4×16×16 like a small SD latent) sampled by the stock samplers
and by ours at 5–30 steps, against the exact ODE solution.

Prints a table (error and saturation, i.e. burn, of every registered sampler) and writes to ``out/``:

- ``grid.png``: rendered samples, rows = stock DPM++ 2M / PLMS-4 / Euler and ours at their defaults,
  columns = steps, next to the exact solution, at guidance 15 (``--guidance``);
- ``error_w1.png``, ``error_w7.5.png``, ``error_w15.png``: error vs steps, one small panel per sampler
  of ours against its stock counterpart and the best stock sampler at that guidance;
- ``help/<sampler>.png``: a small before/after strip per registered sampler, for its help page;
- ``demo.json``: every number.

``--publish`` also copies the figures where the README (docs/images/) and the help pages (web/docs/)
embed them. No downloads, no GPU, about a minute on one core.

Adding a sampler to the pictures is one line: its name in :data:`DEMO_SAMPLERS` (and, if its stock
counterpart is not DPM++ 2M, one entry in :data:`COUNTERPART`).
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from ..sampling import SAMPLER_SPECS
from ..sampling.multistep import sample_plms_hb
from ..sampling.noise import default_noise_sampler
from ..sampling.unipc import sample_unipc_hb
from .gmm import AnalyticDenoiser, image_mixture
from .kdiffusion import load_k_diffusion_sampling
from .reference import data_range, out_of_range_percent, reference_solution, rms_error
from .render import rgb_scale, tile

#: Ours in the grid and the error plots, in this order.
DEMO_SAMPLERS = ["plms_hb", "plms_nt", "ghvb", "dpmpp_2m_hb", "unipc_hb", "adaptive_blend"]
#: The stock sampler each of ours is the momentum version of (default: DPM++ 2M; stochastic: Euler a).
COUNTERPART = {"plms_hb": "PLMS-4", "plms_nt": "PLMS-3", "ghvb": "PLMS-3", "unipc_hb": "UniPC"}
#: Stock rows of the grid.
GRID_STOCK = ["DPM++ 2M", "PLMS-4", "Euler"]

STEPS = (5, 6, 8, 10, 12, 15, 20, 30)
GRID_STEPS = (5, 8, 12, 20)
GUIDANCES = (1.0, 7.5, 15.0)
SHAPE = (4, 16, 16)
SAMPLES = 32
SHOWN = 2  # samples drawn per grid cell
SIGMA_MAX, SIGMA_MIN = 14.6, 0.03
HELP_STEPS = 8
STOCHASTIC_HELP = (7.5, 10)  # guidance and steps of a stochastic sampler's help strip

Run = tuple[Callable, dict]


def stock_runs(k) -> dict[str, Run]:
    """The stock samplers: k-diffusion's own, and PLMS / UniPC as our samplers at β = 1 (which equal
    PLMS-k and UniPC-bh2; docs/multistep.md#reductions, docs/unipc.md#reductions)."""
    return {
        "Euler": (k.sample_euler, {}),
        "DPM++ 2M": (k.sample_dpmpp_2m, {}),
        "LMS": (k.sample_lms, {}),
        "PLMS-4": (sample_plms_hb, {"order": 4, "beta": 1.0}),
        "PLMS-3": (sample_plms_hb, {"order": 3, "beta": 1.0}),
        "UniPC": (sample_unipc_hb, {"beta": 1.0}),
    }


def counterpart(name: str) -> str:
    if name in COUNTERPART:
        return COUNTERPART[name]
    return "Euler a" if SAMPLER_SPECS[name].stochastic else "DPM++ 2M"


def describe(name: str) -> str:
    """'GHVB (order 3, β 0.5)': the label and the defaults that matter."""
    spec = SAMPLER_SPECS[name]
    shown = {"order": "order", "beta": "β", "lam": "λ", "limit": "limit", "check": "check"}
    parts = [f"{shown[p.name]} {p.default:g}" for p in spec.params if p.name in shown]
    return f"{spec.label} ({', '.join(parts)})" if parts else spec.label


class Bed:
    """The analytic model, start noise, exact solutions and scales shared by every figure."""

    def __init__(self, seed: int = 0) -> None:
        self.k = load_k_diffusion_sampling()
        self.mixture = image_mixture(shape=SHAPE, seed=seed)
        self.model = AnalyticDenoiser(self.mixture)
        data = self.mixture.sample(20000, generator=torch.Generator().manual_seed(seed + 5))
        self.threshold = data_range(data)
        self.scale = rgb_scale(data)
        self.x = torch.randn(SAMPLES, *SHAPE, generator=torch.Generator().manual_seed(seed + 1),
                             dtype=torch.float64) * SIGMA_MAX
        self.classes = torch.arange(SAMPLES) % self.mixture.n_classes
        self.seed = seed
        self.exact: dict[float, torch.Tensor] = {}

    def extra(self, guidance: float) -> dict:
        return {"classes": self.classes, "cond_scale": guidance, "seed": self.seed}

    def exact_solution(self, guidance: float) -> torch.Tensor:
        if guidance not in self.exact:
            extra = self.extra(guidance)
            end = reference_solution(self.model, self.x, SIGMA_MAX, SIGMA_MIN, steps=300, extra_args=extra)
            self.exact[guidance] = self.model(end, torch.full((SAMPLES,), SIGMA_MIN, dtype=torch.float64), **extra)
        return self.exact[guidance]

    def run(self, run: Run, guidance: float, steps: int) -> torch.Tensor:
        fn, params = run
        sigmas = self.k.get_sigmas_karras(steps, SIGMA_MIN, SIGMA_MAX, rho=7.0).double()
        return fn(self.model, self.x, sigmas, extra_args=self.extra(guidance), disable=True, **params)

    def euler_ancestral(self) -> Run:
        def sample(model, x, sigmas, extra_args=None, disable=None):
            noise = default_noise_sampler(x, extra_args["seed"])
            return self.k.sample_euler_ancestral(model, x, sigmas, extra_args=extra_args, disable=disable,
                                                 noise_sampler=noise)
        return sample, {}


def measure(bed: Bed, guidances: tuple[float, ...] = GUIDANCES) -> dict:
    """Error and saturation of every stock sampler and every registered sampler at its defaults, at
    every guidance and step count."""
    stock = stock_runs(bed.k)
    runs: dict[str, Run] = dict(stock)
    for name, spec in SAMPLER_SPECS.items():
        runs[name] = (spec.fn, {})
    results = {"steps": list(STEPS), "threshold": bed.threshold, "guidance": {}}
    for w in guidances:
        exact = bed.exact_solution(w)
        cells = {"exact saturation": out_of_range_percent(exact, bed.threshold), "runs": {}}
        for name, run in runs.items():
            stochastic = name in SAMPLER_SPECS and SAMPLER_SPECS[name].stochastic
            errors, saturation = [], []
            for n in STEPS:
                out = bed.run(run, w, n)
                errors.append(None if stochastic else rms_error(out, exact))
                saturation.append(out_of_range_percent(out, bed.threshold))
            cells["runs"][name] = {"error": errors, "saturation": saturation}
        results["guidance"][f"{w:g}"] = cells
    return results


def table(results: dict, guidance: float) -> str:
    cells = results["guidance"][f"{guidance:g}"]
    steps = results["steps"]
    lines = [
        f"Guidance {guidance:g}; error = RMS distance to the exact ODE solution (data std 0.5; — for the "
        f"stochastic samplers, which have no single right answer); saturation = % of values beyond "
        f"±{results['threshold']:.2f} (exact solution: {cells['exact saturation']:.2f} %)",
        "",
        f"| sampler | {' | '.join(f'err n={n}' for n in steps)} | {' | '.join(f'sat n={n}' for n in steps)} |",
        "|---|" + "---|" * (2 * len(steps)),
    ]
    for name, r in cells["runs"].items():
        label = f"{name} (stock)" if name not in SAMPLER_SPECS else name
        err = " | ".join("—" if e is None else f"{e:.3f}" for e in r["error"])
        sat = " | ".join(f"{s:.1f}" for s in r["saturation"])
        lines.append(f"| {label} | {err} | {sat} |")
    return "\n".join(lines)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def grid_figure(bed: Bed, guidance: float, path: Path) -> None:
    """Rows: stock samplers then ours at their defaults; columns: steps, then the exact solution."""
    plt = _plt()
    stock = stock_runs(bed.k)
    rows = [(f"{name} (stock)", stock[name]) for name in GRID_STOCK]
    rows += [(describe(name), (SAMPLER_SPECS[name].fn, {})) for name in DEMO_SAMPLERS]
    exact = bed.exact_solution(guidance)
    cols = len(GRID_STEPS) + 1
    fig, axes = plt.subplots(len(rows), cols, figsize=(2.0 * cols + 1.6, 1.25 * len(rows) + 0.7), squeeze=False)
    for r, (label, run) in enumerate(rows):
        for c in range(cols):
            ax = axes[r][c]
            if c < len(GRID_STEPS):
                out = bed.run(run, guidance, GRID_STEPS[c])
                caption = f"error {rms_error(out, exact):.2f}, burn {out_of_range_percent(out, bed.threshold):.0f} %"
            else:
                out, caption = exact, ""
            ax.imshow(tile(out[:SHOWN], bed.scale).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(caption, fontsize=7, labelpad=2)
            if r == 0:
                ax.set_title("exact solution" if c == len(GRID_STEPS) else f"{GRID_STEPS[c]} steps", fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center", labelpad=6)
    fig.suptitle(f"Guidance {guidance:g}: the same start noise through each sampler; two of {SAMPLES} samples shown, "
                 "error and burn (% of values beyond the data range) over all", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def error_figure(results: dict, guidance: float, path: Path) -> None:
    """One panel per sampler of ours: it (solid), its stock counterpart (dashed) and the best stock
    sampler at this guidance (grey), error vs steps on a log axis shared by the panels."""
    plt = _plt()
    cells = results["guidance"][f"{guidance:g}"]["runs"]
    steps = results["steps"]
    stock_names = list(stock_runs(load_k_diffusion_sampling()))

    def geomean(name: str) -> float:
        return math.exp(sum(math.log(e) for e in cells[name]["error"]) / len(steps))

    ranked = sorted(stock_names, key=geomean)
    cols = min(3, len(DEMO_SAMPLERS))
    rows = math.ceil(len(DEMO_SAMPLERS) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows + 0.4), sharey=True, squeeze=False)
    for ax in axes.flat[len(DEMO_SAMPLERS):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, DEMO_SAMPLERS, strict=False):
        base = counterpart(name)
        best = next(s for s in ranked if s != base)
        ax.plot(steps, cells[best]["error"], ":", color="0.55", marker=".", label=f"{best} (best other stock)")
        ax.plot(steps, cells[base]["error"], "--", color="tab:red", marker=".", label=f"{base} (stock)")
        ax.plot(steps, cells[name]["error"], "-", color="tab:blue", lw=2, marker="o", ms=3, label="ours")
        ax.set_title(describe(name), fontsize=9)
        ax.set(xscale="log", yscale="log", xlabel="steps")
        ax.set_xticks(list(GRID_STEPS) + [30], [str(n) for n in list(GRID_STEPS) + [30]])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    for row in axes:
        row[0].set_ylabel("error vs exact solution")
    fig.suptitle(f"Guidance {guidance:g}: error against the exact ODE solution (lower is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def help_figure(bed: Bed, name: str, path: Path) -> None:
    """A before/after strip for a sampler's help page: its stock counterpart, it, and the exact
    solution (stochastic samplers: exact data samples of the same classes) on the same start noise."""
    plt = _plt()
    spec = SAMPLER_SPECS[name]
    base = counterpart(name)
    if spec.stochastic:
        guidance, steps = STOCHASTIC_HELP
        base_run = bed.euler_ancestral()
        exact = bed.mixture.sample(SHOWN, classes=bed.classes[:SHOWN], generator=torch.Generator().manual_seed(7))
        exact_label = "exact data samples"
    else:
        guidance, steps = 15.0, HELP_STEPS
        base_run = stock_runs(bed.k)[base]
        exact = bed.exact_solution(guidance)
        exact_label = "exact solution"
    panels = [(f"{base} (stock)", bed.run(base_run, guidance, steps)),
              (describe(name), bed.run((spec.fn, {}), guidance, steps)),
              (exact_label, exact)]
    # One column: the help panel of ComfyUI's front end is tall and narrow.
    fig, axes = plt.subplots(3, 1, figsize=(3.2, 5.4))
    for ax, (label, out) in zip(axes, panels, strict=True):
        ax.imshow(tile(out[:SHOWN], bed.scale).numpy(), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        title = f"{label}: burn {out_of_range_percent(out[:SHOWN], bed.threshold):.0f} %"
        ax.set_title(title, fontsize=9 if len(title) <= 44 else 7.5)  # the figure is one narrow column
    fig.suptitle(f"Guidance {guidance:g}, {steps} steps", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def publish(out: Path, root: Path) -> list[Path]:
    """Copy the figures to where the README (docs/images/) and the help pages (web/docs/) embed them."""
    copied = []
    for png in sorted(out.glob("*.png")):
        copied.append(Path(shutil.copy(png, root / "docs" / "images" / png.name)))
    for png in sorted((out / "help").glob("*.png")):
        copied.append(Path(shutil.copy(png, root / "web" / "docs" / png.name)))
    return copied


def main(out_dir: str = "out", guidance: float = 15.0, publish_to: Path | None = None) -> None:
    torch.set_num_threads(1)
    bed = Bed()
    results = measure(bed, tuple(sorted(set(GUIDANCES) | {guidance})))
    print(table(results, guidance))
    out = Path(out_dir)
    (out / "help").mkdir(parents=True, exist_ok=True)
    grid_figure(bed, guidance, out / "grid.png")
    for w in GUIDANCES:
        error_figure(results, w, out / f"error_w{w:g}.png")
    for name in SAMPLER_SPECS:
        help_figure(bed, name, out / "help" / f"{name}.png")
    (out / "demo.json").write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out / 'grid.png'}, {out}/error_w*.png, {out}/help/*.png and {out / 'demo.json'}")
    if publish_to is not None:
        copied = publish(out, publish_to)
        print(f"copied {len(copied)} figures into docs/images/ and web/docs/")
