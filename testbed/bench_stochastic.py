"""Benchmark of the stochastic samplers (issue: AMS and splitting integrators; spec/ams_splitting.md (d)).

Distribution distance and spread vs NFE on the analytic Gaussian-mixture models, for every
registered stochastic sampler (defaults, plus BAOAB at λ = 1.9 and naive BAOAB) against k-diffusion's
``euler_ancestral``, ``dpmpp_2m_sde`` and ``dpmpp_sde`` (and ``euler``, the ODE, for reference), at 10,
20 and 40 model evaluations, for VE and flow latents, at guidance 1 and 7.5.

- Beds: ``ring16``, the spec's 8-mode ring in d = 16 (unconditional, guidance 1); ``image64``, a
  class-conditional 1×8×8 image mixture (10 classes × 3 components), guidance 1 and 7.5, target the
  exact class-conditional law (CFG 7.5 is not meant to reach it: the row to row comparison is what counts).
- Metrics: sliced W1 to exact samples (``floor`` = two exact sample sets), and the spread ratio: RMS
  distance to the nearest component mean ÷ the same for exact samples (1 = exact, < 1 over-sharpened).
- Schedules: VE Karras σ 80 → 0.002 (ρ = 7); flow Karras σ 1 → 0.002, so every sampler ends at the same
  small σ (a flow schedule ending high makes the last denoise step dominate, spec (e) 9).
- Flow baselines: k-diffusion's SDE samplers are VE-only (they step in −log σ); ComfyUI's RF
  ``euler_ancestral`` rule (spec c.0) stands for ``euler_ancestral``; the others show "n/a".
- Equal budget: 1-NFE/step samplers run NFE steps; AMS, naive splitting and ``dpmpp_sde`` (2 per step)
  run NFE/2 steps (their last step, or the flow step from σ = 1, costs 1: NFE − 1 in fact).

Run: ``python benchmark.py stochastic`` (about two minutes on one core). Markdown to stdout, JSON to out/.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import torch

from ..sampling import SAMPLER_SPECS
from ..sampling.noise import default_noise_sampler
from .gmm import AnalyticDenoiser, GaussianMixture, image_mixture, ring_mixture
from .kdiffusion import load_k_diffusion_sampling
from .reference import sliced_wasserstein

NFES = (10, 20, 40)
SEED = 3


class _Counted:
    """The analytic model with the hosts' ``seed`` key swallowed and its calls counted."""

    def __init__(self, mixture: GaussianMixture, family: str) -> None:
        self.inner = AnalyticDenoiser(mixture, family)
        self.model_family = family
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, seed=None, **kwargs) -> torch.Tensor:
        self.calls += 1
        return self.inner(x, sigma, **kwargs)


@torch.no_grad()
def euler_ancestral_rf(model, x, sigmas, extra_args=None, disable=None, eta=1.0, noise_sampler=None):
    """ComfyUI's RF ``euler_ancestral`` (spec c.0): ODE step to σ_down = σ'(1 + (σ'/σ − 1)η), then
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
        x = (alpha_next / alpha_down) * x + noise_sampler(sigmas[i], sigmas[i + 1]) * renoise
    return x


def runs() -> dict[str, tuple[Callable | None, Callable | None, dict, int]]:
    """name → (VE function, flow function, kwargs, NFE per step)."""
    k = load_k_diffusion_sampling()
    table: dict[str, tuple[Callable | None, Callable | None, dict, int]] = {}
    for name, spec in SAMPLER_SPECS.items():
        if spec.stochastic:
            table[name] = (spec.fn, spec.fn, {}, spec.nfe_per_step)
    baoab = SAMPLER_SPECS["split_baoab"].fn
    table["split_baoab lam=1.9"] = (baoab, baoab, {"lam": 1.9}, 1)
    table["split_baoab naive"] = (baoab, baoab, {"reduced": False}, 2)
    table["euler_ancestral (k-diffusion / RF rule)"] = (k.sample_euler_ancestral, euler_ancestral_rf, {}, 1)
    table["dpmpp_2m_sde (k-diffusion)"] = (k.sample_dpmpp_2m_sde, None, {}, 1)
    table["dpmpp_sde (k-diffusion)"] = (k.sample_dpmpp_sde, None, {}, 2)
    table["euler, ODE (k-diffusion)"] = (k.sample_euler, k.sample_euler, {}, 1)
    return table


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


def schedule(k, family: str, steps: int) -> torch.Tensor:
    sigma_max = 80.0 if family == "ve" else 1.0
    return k.get_sigmas_karras(steps, 0.002, sigma_max, rho=7.0).double()


def evaluate() -> list[dict]:
    k = load_k_diffusion_sampling()
    rows = []
    for bed in beds():
        mixture, n = bed["mixture"], bed["n"]
        g = torch.Generator().manual_seed(1)
        classes = torch.arange(n) % mixture.n_classes if bed["conditional"] else None
        truth = mixture.sample(n, classes, generator=g)
        noise = torch.randn(n, *mixture.shape, generator=g, dtype=torch.float64)
        true_spread = spread(truth, mixture, classes)
        floor = sliced_wasserstein(truth, mixture.sample(n, classes, generator=g), p=1)
        for w in bed["guidances"]:
            extra = {"seed": SEED} if classes is None else {"seed": SEED, "classes": classes, "cond_scale": w}
            for family in ("ve", "flow"):
                rows.append({"bed": bed["bed"], "guidance": w, "family": family, "sampler": "floor (exact vs exact)",
                             "nfe": 0, "calls": 0, "w1": floor, "spread": 1.0, "seconds": 0.0})
                for name, (ve_fn, flow_fn, kwargs, per_step) in runs().items():
                    fn = ve_fn if family == "ve" else flow_fn
                    for nfe in NFES:
                        row = {"bed": bed["bed"], "guidance": w, "family": family, "sampler": name, "nfe": nfe}
                        if fn is None:
                            rows.append({**row, "calls": 0, "w1": None, "spread": None, "seconds": 0.0})
                            continue
                        sigmas = schedule(k, family, nfe // per_step)
                        model = _Counted(mixture, family)
                        x = noise * float(sigmas[0])
                        call_kwargs = dict(kwargs)
                        if fn not in {s.fn for s in SAMPLER_SPECS.values()}:  # baselines: same seeded noise
                            call_kwargs["noise_sampler"] = default_noise_sampler(x, SEED)
                            extra_args = {key: v for key, v in extra.items() if key != "seed"}
                        else:
                            extra_args = extra
                        if fn is k.sample_euler:
                            call_kwargs.pop("noise_sampler")
                        start = time.perf_counter()
                        out = fn(model, x, sigmas, extra_args=extra_args, disable=True, **call_kwargs)
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


def main(out_dir: str = "out") -> None:
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = evaluate()
    print("## Stochastic samplers: distribution distance and spread vs NFE (analytic Gaussian mixtures, float64)")
    print(markdown(rows))
    print(f"\n({time.perf_counter() - start:.0f} s on one thread)")
    Path(out_dir).mkdir(exist_ok=True)
    Path(out_dir, "bench_stochastic.json").write_text(json.dumps(rows, indent=1))
