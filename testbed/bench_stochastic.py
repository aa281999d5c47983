"""Benchmark of the stochastic samplers (docs/testbed.md#metrics).

Distribution distance and spread vs NFE on the analytic Gaussian-mixture models, for every
registered stochastic sampler (defaults, plus BAOAB at λ = 1 and naive BAOAB) against the hosts'
stochastic samplers (and ``euler``, the ODE, for reference), at 10, 20 and 40 model calls, for VE and
flow latents, at guidance 1 and 7.5.

- Competitors: with ``COMFYUI_PATH`` naming a ComfyUI checkout (run under that checkout's Python),
  ComfyUI's euler_ancestral, dpmpp_2m_sde, dpmpp_3m_sde, sa_solver, er_sde, seeds_2, seeds_3 and
  dpmpp_sde at the values KSampler uses, each called as KSampler calls it (``KSAMPLER.sample`` with
  the real model sampling, seed 3), and our samplers through their registered ``ms_*`` names.
  Without ComfyUI: k-diffusion's ``euler_ancestral``, ``dpmpp_2m_sde`` and ``dpmpp_sde`` (VE only:
  they step in −log σ; ComfyUI's RF ``euler_ancestral`` rule (docs/noise.md#flow-re-noising) stands in for flow latents).
- Beds: ``ring16``, the spec's 8-mode ring in d = 16 (unconditional, guidance 1); ``image64``, a
  class-conditional 1×8×8 image mixture (10 classes × 3 components), guidance 1 and 7.5, target the
  exact class-conditional law (CFG 7.5 is not meant to reach it: the row to row comparison is what counts).
- Metrics: sliced W1 to exact samples (``floor`` = two exact sample sets), and the spread ratio: RMS
  distance to the nearest component mean ÷ the same for exact samples (1 = exact, < 1 over-sharpened).
- Schedules: VE Karras σ 80 → 0.002 (ρ = 7), model sampling with that σ range; flow Karras σ 1 → 0.002
  (discrete flow model sampling, shift 3), so every sampler ends at the same small σ (a flow schedule
  ending high makes the last denoise step dominate). The first latent is made as KSampler
  makes it (VE at σ_max: √(1 + σ²)·n).
- Equal budget: each sampler gets the most steps whose counted model calls stay within the NFE
  (1-sample dry runs); ``calls`` is what it used.

Run: ``python benchmark.py stochastic`` (a few minutes on one core). Markdown to stdout, JSON to out/.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..sampling import SAMPLER_SPECS
from .bench_allround import Candidate, ComfyHost, make_host
from .gmm import AnalyticDenoiser, GaussianMixture, image_mixture, ring_mixture
from .kdiffusion import load_k_diffusion_sampling
from .reference import sliced_wasserstein

NFES = (10, 20, 40)
SEED = 3
VE_RANGE = (0.002, 80.0)
FLOW_RANGE = (0.002, 1.0)


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


class _RangeVE:
    """Host-free stand-in for a VE model sampling covering σ ∈ [0.002, 80]."""

    family = "ve"
    sigma_min, sigma_max = VE_RANGE


class _RangeFlow:
    family = "flow"
    sigma_min, sigma_max = FLOW_RANGE


def model_sampling(host, family: str):
    if isinstance(host, ComfyHost):
        if family == "ve":
            ms_mod = host.comfy.model_sampling
            ms = type("ModelSampling", (ms_mod.ModelSamplingContinuousEDM, ms_mod.EPS), {})()
            ms.set_parameters(*VE_RANGE, 1.0)
            return ms
        return host.model_sampling("flow")
    return _RangeVE() if family == "ve" else _RangeFlow()


def candidates(host) -> list[Candidate]:
    """Our stochastic samplers (defaults, BAOAB at λ = 1, naive BAOAB), the host's stochastic samplers,
    and the ODE's euler for reference."""
    ours = [(name, {}) for name, spec in SAMPLER_SPECS.items() if spec.stochastic]
    ours += [("split_baoab lam=1", {"lam": 1.0}), ("split_baoab naive", {"reduced": False})]
    if isinstance(host, ComfyHost):
        from ..nodes.naming import stock_name

        samplers = host.comfy.samplers
        out = [Candidate(name, samplers.ksampler(stock_name(name.split(" ")[0]), kw)) for name, kw in ours]
        out += [Candidate(n, samplers.sampler_object(n)) for n in
                ("euler_ancestral", "dpmpp_2m_sde", "dpmpp_3m_sde", "sa_solver", "er_sde", "seeds_2", "seeds_3", "dpmpp_sde")]
        return out + [Candidate("euler, ODE", samplers.sampler_object("euler"))]
    k = load_k_diffusion_sampling()
    out = [Candidate(name, SAMPLER_SPECS[name.split(" ")[0]].fn, kw, pass_family=True) for name, kw in ours]
    return out + [
        Candidate("euler_ancestral (k-diffusion / RF rule)", _by_family(k.sample_euler_ancestral, euler_ancestral_rf),
                  pass_family=True),
        Candidate("dpmpp_2m_sde (k-diffusion)", k.sample_dpmpp_2m_sde, families=("ve",)),
        Candidate("dpmpp_sde (k-diffusion)", k.sample_dpmpp_sde, families=("ve",)),
        Candidate("euler, ODE (k-diffusion)", k.sample_euler),
    ]


def _by_family(ve_fn: Callable, flow_fn: Callable) -> Callable:
    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, model_family="ve", **kwargs):
        fn = ve_fn if model_family == "ve" else flow_fn
        return fn(model, x, sigmas, extra_args=extra_args, disable=disable, **kwargs)

    return sample


def _within(host, cand: Candidate, mixture: GaussianMixture, family: str, ms, nfe: int, noise, extra) -> int | None:
    """The most steps whose counted model calls stay within ``nfe`` (1-sample dry runs)."""
    lo, hi = 0, nfe
    one = {k: (v[:1] if isinstance(v, torch.Tensor) else v) for k, v in extra.items()}
    while lo < hi:
        mid = (lo + hi + 1) // 2
        model = AnalyticDenoiser(mixture, family)
        _run(host, cand, model, ms, family, schedule(family, mid), noise[:1], one)
        if model.calls <= nfe:
            lo = mid
        else:
            hi = mid - 1
    return lo or None


def _run(host, cand, model, ms, family, sigmas, noise, extra):
    torch.manual_seed(SEED)  # the host-free baselines draw from the global generator
    return host.run(cand, model, ms, family, sigmas, noise, extra)


def spread(samples: torch.Tensor, mixture: GaussianMixture, classes: torch.Tensor | None) -> float:
    """RMS distance to the nearest component mean (of the sample's class, when conditional)."""
    coeffs = mixture._to_coeffs(samples.double()).reshape(samples.shape[0], -1)
    dist = torch.cdist(coeffs, mixture.means)
    if classes is not None:
        dist = dist.masked_fill(mixture.labels[None, :] != classes[:, None], math.inf)
    nearest = dist.argmin(dim=1)
    return math.sqrt(float((coeffs - mixture.means[nearest]).pow(2).mean()))


def beds() -> list[dict]:
    """(name, mixture, n samples, conditional?, guidances)."""
    return [
        {"bed": "ring16", "mixture": ring_mixture(dim=16), "n": 4000, "conditional": False, "guidances": (1.0,)},
        {"bed": "image64", "mixture": image_mixture(shape=(1, 8, 8)), "n": 2000, "conditional": True,
         "guidances": (1.0, 7.5)},
    ]


def schedule(family: str, steps: int) -> torch.Tensor:
    from .schedules import karras_schedule

    return karras_schedule(steps, *(VE_RANGE if family == "ve" else FLOW_RANGE))


def evaluate(host=None) -> list[dict]:
    host = make_host() if host is None else host
    cands = candidates(host)
    budget: dict[tuple, int | None] = {}  # steps per (sampler, family, NFE): the schedule is the same on every bed
    rows = []
    for bed in beds():
        mixture, n = bed["mixture"], bed["n"]
        g = torch.Generator().manual_seed(1)
        classes = torch.arange(n) % mixture.n_classes if bed["conditional"] else None
        truth = mixture.sample(n, classes, generator=g)
        # float32 latents as the hosts use (ComfyUI's sa_solver refuses float64 with float32 σ's)
        noise = torch.randn(n, *mixture.shape, generator=g, dtype=torch.float64).float()
        true_spread = spread(truth, mixture, classes)
        floor = sliced_wasserstein(truth, mixture.sample(n, classes, generator=g), p=1)
        for w in bed["guidances"]:
            extra = {"seed": SEED, "classes": classes, "cond_scale": w}
            for family in ("ve", "flow"):
                ms = model_sampling(host, family)
                rows.append({"bed": bed["bed"], "guidance": w, "family": family, "sampler": "floor (exact vs exact)",
                             "nfe": 0, "calls": 0, "w1": floor, "spread": 1.0, "seconds": 0.0})
                for cand in cands:
                    for nfe in NFES:
                        row = {"bed": bed["bed"], "guidance": w, "family": family, "sampler": cand.name, "nfe": nfe}
                        steps = None
                        if family in cand.families:
                            key = (cand.name, family, nfe)
                            if key not in budget:
                                budget[key] = _within(host, cand, mixture, family, ms, nfe, noise, extra)
                            steps = budget[key]
                        if steps is None:
                            rows.append({**row, "calls": 0, "w1": None, "spread": None, "seconds": 0.0})
                            continue
                        model = AnalyticDenoiser(mixture, family)
                        start = time.perf_counter()
                        out = _run(host, cand, model, ms, family, schedule(family, steps), noise, extra)
                        rows.append({**row, "calls": model.calls, "w1": sliced_wasserstein(out, truth, p=1),
                                     "spread": spread(out, mixture, classes) / true_spread,
                                     "seconds": time.perf_counter() - start})
    return rows


def markdown(rows: list[dict]) -> str:
    out = []
    groups: dict[tuple, dict[str, dict[int, dict]]] = {}
    for r in rows:
        groups.setdefault((r["bed"], r["guidance"], r["family"]), {}).setdefault(r["sampler"], {})[r["nfe"]] = r
    for (bed, w, family), table in groups.items():
        out.append(f"\n### {bed}, {family}, guidance {w:g} (cells: sliced W1 / spread ratio)\n")
        out.append("| sampler | " + " | ".join(f"NFE {n}" for n in NFES) + " |")
        out.append("|---|" + "---|" * len(NFES))
        for name, cells in table.items():
            if 0 in cells:
                out.append(f"| {name} | " + " | ".join(f"{cells[0]['w1']:.4f}" for _ in NFES) + " |")
                continue
            text = [("n/a" if c["w1"] is None else f"{c['w1']:.4f} / {c['spread']:.2f}") for c in (cells[n] for n in NFES)]
            out.append(f"| {name} | " + " | ".join(text) + " |")
    return "\n".join(out)


def ranking(rows: list[dict]) -> str:
    """All-round score of the distribution metric: sliced W1 / the cell's best W1 over the samplers, geometric
    mean and worst over every (bed, guidance, family, NFE) cell the sampler ran."""
    cells: dict[tuple, list[tuple[str, float]]] = {}
    for r in rows:
        if r["nfe"] and r["w1"] is not None:
            cells.setdefault((r["bed"], r["guidance"], r["family"], r["nfe"]), []).append((r["sampler"], r["w1"]))
    ratios: dict[str, list[float]] = {}
    for cell in cells.values():
        best = min(w for _, w in cell)
        for name, w in cell:
            ratios.setdefault(name, []).append(w / best)
    geo = {name: math.exp(sum(math.log(v) for v in vs) / len(vs)) for name, vs in ratios.items()}
    lines = ["| # | sampler | geo-mean W1 ratio | worst | cells |", "|---|---|---|---|---|"]
    for i, name in enumerate(sorted(geo, key=geo.get), 1):
        lines.append(f"| {i} | {name} | {geo[name]:.2f} | {max(ratios[name]):.1f} | {len(ratios[name])}/{len(cells)} |")
    return "\n".join(lines)


def main(out_dir: str = "out") -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    host = make_host()
    rows = evaluate(host)
    print("## Stochastic samplers: distribution distance and spread vs NFE (analytic Gaussian mixtures, float32 latents)")
    print(f"\n{host.name}")
    print(markdown(rows))
    print("\n### Ranking: sliced W1 / the cell's best, over every bed, family, guidance and NFE\n")
    print(ranking(rows))
    print(f"\n({time.perf_counter() - start:.0f} s on one thread)")
    Path(out_dir).mkdir(exist_ok=True)
    Path(out_dir, "bench_stochastic.json").write_text(json.dumps(rows, indent=1))
