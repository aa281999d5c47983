"""The all-round benchmark: which single sampler a user should pick, on both test beds.

Every deterministic sampler runs every cell at equal model calls; its score is its error divided by the
cell's best error of all samplers, summarised as the geometric mean over the cells and the worst cell.

- Analytic bed (88 cells): the class-conditional Gaussian mixture (latent 4×16×16, 128 samples) of
  ``gmm.py``. VE latents of an SD1.5-like discrete model (linear betas 0.00085–0.012, 1000 steps) on
  Karras σ 14.6 → 0.03 and on ComfyUI's "normal" and "simple" schedules for that model, guidance 1,
  7.5 and 15; flow latents of a discrete flow model (shift 3) on "simple", guidance 1 and 5.
  NFE 5, 6, 8, 10, 12, 15, 20, 30.
- Learned bed (28 cells): the digits denoiser of ``learned.py`` (256 samples), Karras σ 14.6 → 0.03,
  guidance 1, 3, 7.5 and 15, NFE 5, 6, 8, 10, 15, 20, 30.
- Equal calls: each sampler gets the most steps whose counted model calls do not exceed the cell's NFE
  (so a sampler with two calls per step gets about half the steps); ``calls`` in the CSV is what it used.
- Error (float32 latents, as in the hosts): mean per-sample RMS difference to the exact solution: RK4
  in float64 in log σ (65 steps per unit of log σ) from the same first latent to the last σ > 0 of the
  cell's schedule at NFE steps, then the final denoise D(x; σ_last). One target per cell for every
  sampler: a sampler whose σ's end elsewhere (KSampler's penultimate-σ rule, or fewer steps of
  "simple" for two calls per step) is judged by the image it returns.
- Burn: percent of values beyond the data range (analytic: the 99.9 % quantile of |x0|; learned: |x| > 3,
  three times the data range) next to the exact solution's; a cell burns when the share exceeds 1.5×
  (analytic) or 2× (learned) the exact one's by more than 0.1 percentage points.
- Competitors: with ``COMFYUI_PATH`` naming a ComfyUI checkout (run under that checkout's Python),
  every deterministic ComfyUI sampler, its SDE samplers at η = 0 and er_sde in ODE mode (the
  SamplerER_SDE node's "ODE" solver type), each called as KSampler calls it (``KSAMPLER.sample``: noise
  scaling by the real ``comfy.model_sampling`` object, KSampler's penultimate-σ rule for dpm_2 and
  uni_pc), schedules from ``comfy.samplers.calculate_sigmas``; our samplers through their registered
  ``ms_*`` names. Without ComfyUI: k-diffusion's samplers and the host-free schedules of
  ``schedules.py``; our samplers called directly.

Run: ``python benchmark.py allround [--bed analytic|learned|both] [--quick] [--extra module:function]``.
Python: ``run_allround({"mine": my_sampler}, bed="analytic")`` (see :func:`run_allround`).
Markdown to stdout, CSVs to out/.
"""

from __future__ import annotations

import csv
import importlib
import inspect
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..sampling import SAMPLER_SPECS
from . import schedules as sch
from .reference import data_range, out_of_range_percent, reference_checkpoints, rms_error

SEED = 0
RESULTS_DIR = Path(__file__).resolve().parent.parent / "docs" / "results"
TIE = 1.05  # within 5 % of a cell's best error counts as a tie
RATIO_CAP = 1000.0  # the ratio given to a non-finite result
#: ComfyUI samplers that KSampler runs on steps + 1 σ's with the penultimate one dropped.
DISCARD_PENULTIMATE = ("dpm_2", "uni_pc", "uni_pc_bh2")


@dataclass(frozen=True)
class Group:
    """Cells sharing one model, one first latent and one reference trajectory."""

    schedule: str  # one of schedules.SCHEDULERS
    family: str  # "ve" or "flow"
    guidance: float
    shift: float = 3.0  # the flow model's shift (flow only)
    data: str = ""  # the bed's data law, where a bed has several
    split: str = "tune"  # "tune": cells the defaults may be chosen on; "report": held back

    @property
    def label(self) -> str:
        model = "" if self.family == "ve" else f" flow{self.shift:g}"
        law = f"{self.data} " if self.data else ""
        return f"{law}{self.schedule}{model} w={self.guidance:g}"


@dataclass
class Bed:
    name: str
    make_model: Callable[[Group], Any]  # group -> counted denoiser
    shape: tuple[int, ...]
    samples: int
    n_classes: Callable[[Group], int] | int
    groups: list[Group]
    nfes: tuple[int, ...]
    burn_threshold: Callable[[Group], float] | float
    burn_factor: float
    steps_per_unit: float = 65.0
    fingerprint: str = ""  # what the model is (weights file digest, data laws), for the reference cache

    def threshold(self, group: Group) -> float:
        return self.burn_threshold(group) if callable(self.burn_threshold) else self.burn_threshold

    def classes(self, group: Group) -> int:
        return self.n_classes(group) if callable(self.n_classes) else self.n_classes


@dataclass
class Candidate:
    """One sampler under test. ``sampler`` is a k-diffusion-style function (called with ``kwargs``) or,
    in ComfyUI mode, a ``comfy.samplers.KSAMPLER``."""

    name: str
    sampler: Any
    kwargs: dict = field(default_factory=dict)
    pass_family: bool = False  # add model_family=<family> to the call
    discard_penultimate: bool = False
    families: tuple[str, ...] = ("ve", "flow")


#: The analytic bed's data laws (keyword arguments of ``gmm.image_mixture``): A is the law the
#: defaults were chosen on; B and C are held back (other class counts, spreads and spectra).
DATA_LAWS: dict[str, dict] = {
    "A": {},
    "B": {"seed": 1, "n_classes": 6, "components_per_class": 5, "class_spread": 1.5, "component_spread": 0.35,
          "spectrum_decay": 1.5},
    "C": {"seed": 2, "n_classes": 12, "components_per_class": 2, "class_spread": 0.7, "component_spread": 0.2,
          "spectrum_decay": 2.5, "pixel_std": 0.8},
}
NFES = (5, 6, 8, 10, 14, 20, 30)


def _report(data: Iterable[str], cells: Iterable[tuple[str, str, float, float]]) -> list[Group]:
    """Report groups from (schedule, family, shift, guidance), cycling through the data laws ``data``."""
    laws = list(data)
    return [Group(schedule, family, w, shift, laws[i % len(laws)] if laws else "", "report")
            for i, (schedule, family, shift, w) in enumerate(cells)]


#: The cells of each bed. Tuning cells: Karras, "normal" and "simple" at guidance 1, 3, 7.5, 8, 15; flow
#: shift 3 on "simple"; data law A. Report cells: the other six schedulers, guidance 2, 4, 5, 6, 10, 12,
#: flow shifts 1 and 6, data laws B and C.
ANALYTIC_GROUPS = (
    [Group(s, "ve", w, data="A") for s in ("karras", "normal", "simple") for w in (1.0, 7.5, 15.0)]
    + [Group("simple", "flow", w, 3.0, "A") for w in (1.0, 5.0)]
    + _report("BC", [(s, "ve", 3.0, w) for s in ("exponential", "sgm_uniform", "ddim_uniform", "beta",
                                                  "linear_quadratic", "kl_optimal") for w in (2.0, 5.0, 10.0)])
    + _report("CB", [("normal", "flow", 1.0, 2.0), ("beta", "flow", 1.0, 4.0), ("sgm_uniform", "flow", 1.0, 6.0),
                     ("normal", "flow", 6.0, 4.0), ("beta", "flow", 6.0, 2.0), ("linear_quadratic", "flow", 6.0, 6.0)])
)
DIGITS_GROUPS = (
    [Group("karras", "ve", w) for w in (1.0, 3.0, 7.5, 15.0)]
    + _report("", [("normal", "ve", 3.0, 2.0), ("simple", "ve", 3.0, 10.0), ("beta", "ve", 3.0, 5.0),
                   ("exponential", "ve", 3.0, 12.0), ("kl_optimal", "ve", 3.0, 4.0), ("sgm_uniform", "flow", 6.0, 5.0)])
)
CONV_GROUPS = (
    [Group("karras", "ve", 1.0), Group("karras", "ve", 8.0), Group("normal", "ve", 15.0),
     Group("simple", "flow", 5.0, 3.0)]
    + _report("", [("exponential", "ve", 3.0, 2.0), ("beta", "ve", 3.0, 10.0), ("sgm_uniform", "ve", 3.0, 5.0),
                   ("kl_optimal", "ve", 3.0, 12.0), ("ddim_uniform", "ve", 3.0, 4.0), ("simple", "ve", 3.0, 6.0),
                   ("beta", "flow", 1.0, 3.0), ("normal", "flow", 6.0, 6.0)])
)
BEDS = ("analytic", "digits", "conv")


def analytic_bed(quick: bool = False) -> Bed:
    from .gmm import AnalyticDenoiser, image_mixture

    mixtures = {law: image_mixture(shape=(4, 16, 16), **kw) for law, kw in DATA_LAWS.items()}
    thresholds = {law: data_range(m.sample(20000, generator=torch.Generator().manual_seed(5)))
                  for law, m in mixtures.items()}
    groups, nfes = list(ANALYTIC_GROUPS), NFES
    if quick:
        groups = [Group("karras", "ve", 7.5, data="A"), Group("beta", "ve", 10.0, 3.0, "B", "report"),
                  Group("simple", "flow", 5.0, 3.0, "A")]
        nfes = (6, 10)
    return Bed("analytic", lambda g: AnalyticDenoiser(mixtures[g.data or "A"], g.family), (4, 16, 16),
               32 if quick else 64, lambda g: mixtures[g.data or "A"].n_classes, groups, nfes,
               lambda g: thresholds[g.data or "A"], 1.5, 30.0 if quick else 65.0, repr(DATA_LAWS))


def learned_bed(quick: bool = False, which: str = "digits") -> Bed:
    """The digits MLP (``learned.py``) or the convolutional patch denoiser (``learned_conv.py``)."""
    import hashlib

    if which == "digits":
        from .learned import FAR_OUT, N_CLASSES, SHAPE, WEIGHTS, LearnedDenoiser, load_net

        net, groups = load_net(), list(DIGITS_GROUPS)
        make = lambda g: LearnedDenoiser(g.family, net=net)
    else:
        from .learned_conv import FAR_OUT, N_CLASSES, SHAPE, WEIGHTS, ConvDenoiser, load_net

        net, groups = load_net(), list(CONV_GROUPS)
        make = lambda g: ConvDenoiser(g.family, net=net)
    # the U-Net costs about ten times the MLP per call: fewer samples, calls up to 20, a coarser reference
    nfes, samples, per_unit = (NFES, 128, 65.0) if which == "digits" else (NFES[:-1], 32, 40.0)
    if quick:
        groups, nfes, samples, per_unit = [groups[-1]], (6, 10), 16, 30.0
    return Bed(which, make, SHAPE, samples, N_CLASSES, groups, nfes, FAR_OUT, 2.0, per_unit, hashlib.sha256(Path(WEIGHTS).read_bytes()).hexdigest())


def make_bed(name: str, quick: bool = False) -> Bed:
    if name == "analytic":
        return analytic_bed(quick)
    if name in ("digits", "learned"):
        return learned_bed(quick, "digits")
    if name == "conv":
        return learned_bed(quick, "conv")
    raise ValueError(f"unknown bed {name!r}: expected one of {', '.join(BEDS)}")


# --- hosts ---------------------------------------------------------------------------------------------


class HostFree:
    """k-diffusion's samplers and the host-free schedules."""

    name = "host-free (k-diffusion 0.1.1.post1 samplers, schedules.py)"

    def model_sampling(self, family: str, shift: float = 3.0):
        return sch.DiscreteVE() if family == "ve" else sch.DiscreteFlow(shift=shift)

    def base_sigmas(self, schedule: str, ms, steps: int) -> torch.Tensor:
        return sch.calculate_sigmas(ms, schedule, steps)

    def first_latent(self, ms, sigma0: float, noise: torch.Tensor) -> torch.Tensor:
        return sch.noise_scaling(ms, sigma0, noise)

    def run(self, cand: Candidate, model, ms, family: str, sigmas, noise, extra: dict) -> torch.Tensor:
        x = self.first_latent(ms, float(sigmas[0]), noise)
        kwargs = {**cand.kwargs, **({"model_family": family} if cand.pass_family else {})}
        return cand.sampler(model, x, sigmas, extra_args=dict(extra), disable=True, **kwargs)

    def builtin(self) -> list[Candidate]:
        from .kdiffusion import load_k_diffusion_sampling

        k = load_k_diffusion_sampling()

        def dpm_fast(model, x, sigmas, extra_args=None, callback=None, disable=None):
            sigma_min = sigmas[-2] if sigmas[-1] == 0 else sigmas[-1]
            return k.sample_dpm_fast(model, x, sigma_min, sigmas[0], len(sigmas) - 1, extra_args=extra_args, disable=disable)

        out = [Candidate("euler", k.sample_euler), Candidate("heun", k.sample_heun),
               Candidate("dpm_2", k.sample_dpm_2, discard_penultimate=True), Candidate("lms", k.sample_lms)]
        ve_only = [("dpm_fast", dpm_fast, {}), ("dpmpp_2m", k.sample_dpmpp_2m, {}),
                   ("dpmpp_2s_ancestral (eta 0)", k.sample_dpmpp_2s_ancestral, {"eta": 0.0}),
                   ("dpmpp_sde (eta 0)", k.sample_dpmpp_sde, {"eta": 0.0}),
                   ("dpmpp_2m_sde (eta 0)", k.sample_dpmpp_2m_sde, {"eta": 0.0}),
                   ("dpmpp_2m_sde_heun (eta 0)", k.sample_dpmpp_2m_sde, {"eta": 0.0, "solver_type": "heun"}),
                   ("dpmpp_3m_sde (eta 0)", k.sample_dpmpp_3m_sde, {"eta": 0.0})]
        out += [Candidate(n, f, kw, families=("ve",)) for n, f, kw in ve_only]
        out += [Candidate(name, spec.fn, spec.defaults(), pass_family=True)
                for name, spec in SAMPLER_SPECS.items() if not spec.stochastic]
        return out

    def wrap_extra(self, name: str, fn: Callable | str) -> Candidate:
        if isinstance(fn, str):  # a registry sampler at its defaults, as the built-ins run
            spec = SAMPLER_SPECS[fn]
            return Candidate(name, spec.fn, spec.defaults(), pass_family=True)
        return Candidate(name, fn, pass_family=_accepts(fn, "model_family"))


class _Guider:
    """What ComfyUI's CFGGuider is to a KSAMPLER: ``inner_model`` carrying the real model sampling, a
    ``model_patcher`` that hands it out, and ``__call__(x, sigma, model_options, seed)`` returning the
    guided denoised latent (here the test bed's own cond/uncond combination)."""

    def __init__(self, denoiser, ms, classes: torch.Tensor, cfg: float) -> None:
        self.denoiser = denoiser
        self.inner_model = type("Model", (), {})()
        self.inner_model.model_sampling = ms
        self.model_patcher = type("Patcher", (), {"get_model_object": lambda _self, name: ms})()
        self.classes = classes
        self.cfg = cfg

    def __call__(self, x, sigma, model_options=None, seed=None, **kwargs):
        return self.denoiser(x, sigma, classes=self.classes, cond_scale=self.cfg)


class ComfyHost:
    """ComfyUI's real samplers, model samplings and schedules, with our samplers registered by name."""

    def __init__(self, path: str) -> None:
        path = str(Path(path).resolve())
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)
        from comfy.cli_args import args

        args.cpu = True
        args.disable_api_nodes = True
        import comfy.k_diffusion.sampling
        import comfy.model_sampling
        import comfy.samplers
        import comfyui_version

        from ..nodes.registration import register_stock_samplers

        register_stock_samplers()
        self.comfy = comfy
        self.version = comfyui_version.__version__
        self.name = f"ComfyUI {self.version} ({path})"

    def model_sampling(self, family: str, shift: float = 3.0):
        ms_mod = self.comfy.model_sampling
        if family == "ve":
            cls = type("ModelSampling", (ms_mod.ModelSamplingDiscrete, ms_mod.EPS), {})
            return cls()
        cls = type("ModelSampling", (ms_mod.ModelSamplingDiscreteFlow, ms_mod.CONST), {})
        ms = cls()
        ms.set_parameters(shift=shift, multiplier=1000)
        return ms

    def base_sigmas(self, schedule: str, ms, steps: int) -> torch.Tensor:
        sigmas = self.comfy.samplers.calculate_sigmas(ms, schedule, steps)
        flow = not isinstance(ms, self.comfy.model_sampling.EPS)
        replica = sch.calculate_sigmas(sch.DiscreteFlow(float(ms.shift)) if flow else sch.DiscreteVE(), schedule, steps)
        if not torch.allclose(sigmas.double(), replica.double(), rtol=1e-6, atol=0):
            raise AssertionError(f"schedules.py's {schedule} differs from ComfyUI's at {steps} steps")
        return sigmas

    def first_latent(self, ms, sigma0: float, noise: torch.Tensor) -> torch.Tensor:
        sigmas = torch.tensor([sigma0], dtype=torch.float32)
        wrap = type("Wrap", (), {})()
        wrap.inner_model = type("Model", (), {})()
        wrap.inner_model.model_sampling = ms
        max_denoise = self.comfy.samplers.Sampler().max_denoise(wrap, sigmas)
        return ms.noise_scaling(sigmas[0], noise.clone(), torch.zeros_like(noise), max_denoise)

    def run(self, cand: Candidate, model, ms, family: str, sigmas, noise, extra: dict) -> torch.Tensor:
        ksampler = cand.sampler
        if not isinstance(ksampler, self.comfy.samplers.KSAMPLER):
            kwargs = {**cand.kwargs, **({"model_family": family} if cand.pass_family else {})}
            ksampler = self.comfy.samplers.KSAMPLER(cand.sampler, extra_options=kwargs)
        guider = _Guider(model, ms, extra["classes"], extra["cond_scale"])
        return ksampler.sample(guider, sigmas, {"model_options": {}, "seed": extra.get("seed", SEED)}, None, noise.clone(),
                               latent_image=torch.zeros_like(noise), denoise_mask=None, disable_pbar=True)

    def builtin(self) -> list[Candidate]:
        samplers = self.comfy.samplers
        deterministic = ["euler", "heun", "heunpp2", "exp_heun_2_x0", "dpm_2", "lms", "dpm_fast", "dpmpp_2m",
                         "ipndm", "ipndm_v", "deis", "res_multistep", "gradient_estimation", "uni_pc", "uni_pc_bh2"]
        out = [Candidate(n, samplers.sampler_object(n), discard_penultimate=n in DISCARD_PENULTIMATE) for n in deterministic]
        for n in ("dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun", "dpmpp_3m_sde", "seeds_2", "seeds_3"):
            out.append(Candidate(f"{n} (eta 0)", samplers.ksampler(n, {"eta": 0.0})))
        tau0 = self.comfy.k_diffusion.sa_solver.get_tau_interval_func(1.0, 0.0, eta=0.0)
        for n, pece in (("sa_solver", False), ("sa_solver_pece", True)):
            options = {"tau_func": tau0, "s_noise": 1.0, "predictor_order": 3, "corrector_order": 4,
                       "use_pece": pece, "simple_order_2": False}
            out.append(Candidate(f"{n} (eta 0)", samplers.ksampler("sa_solver", options)))
        from comfy_extras.nodes_custom_sampler import SamplerER_SDE

        er_ode = SamplerER_SDE.execute(solver_type="ODE", max_stage=3, eta=0.0, s_noise=0.0)
        out.append(Candidate("er_sde (ODE)", er_ode.result[0]))
        from ..nodes.naming import stock_name

        out += [Candidate(name, samplers.sampler_object(stock_name(name)))
                for name, spec in SAMPLER_SPECS.items() if not spec.stochastic]
        return out

    def wrap_extra(self, name: str, fn: Callable | str) -> Candidate:
        if isinstance(fn, str):  # a registry sampler through its registered ms_* name, as the built-ins run
            from ..nodes.naming import stock_name
            from ..nodes.registration import register_stock_samplers

            register_stock_samplers()  # registers samplers added to the registry after start-up too
            return Candidate(name, self.comfy.samplers.sampler_object(stock_name(fn)))
        return Candidate(name, fn, pass_family=_accepts(fn, "model_family"))


def _accepts(fn: Callable, keyword: str) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == keyword or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def make_host(comfyui_path: str | None = None):
    """ComfyUI when ``comfyui_path`` (default: the ``COMFYUI_PATH`` environment variable) names a
    checkout, else the host-free stand-ins."""
    path = os.environ.get("COMFYUI_PATH", "") if comfyui_path is None else comfyui_path
    if path and (Path(path) / "comfy" / "samplers.py").is_file():
        return ComfyHost(path)
    return HostFree()


# --- the measurement ----------------------------------------------------------------------------------


def _sigmas(host, cand: Candidate, group: Group, ms, steps: int) -> torch.Tensor:
    if cand.discard_penultimate:
        sigmas = host.base_sigmas(group.schedule, ms, steps + 1)
        return torch.cat([sigmas[:-2], sigmas[-1:]])
    return host.base_sigmas(group.schedule, ms, steps)


def _calls(host, cand, bed, group, ms, steps, noise, extra) -> int:
    model = bed.make_model(group)
    host.run(cand, model, ms, group.family, _sigmas(host, cand, group, ms, steps), noise[:1],
             {"classes": extra["classes"][:1], "cond_scale": extra["cond_scale"]})
    return model.calls


def steps_for(host, cand, bed, group, ms, nfe, noise, extra, cache: dict) -> int | None:
    """The most steps whose model calls stay within ``nfe`` (binary search on 1-sample dry runs)."""
    key = (cand.name, group.schedule, group.family, group.shift, nfe)
    if key not in cache:
        lo, hi = 0, nfe
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _calls(host, cand, bed, group, ms, mid, noise, extra) <= nfe:
                lo = mid
            else:
                hi = mid - 1
        cache[key] = lo or None
    return cache[key]


def measure(bed: Bed, host, candidates: list[Candidate], log: Callable[[str], None] = print) -> list[dict]:
    """One row per (cell, sampler), plus one "exact" row per cell with the reference's burn share."""
    g = torch.Generator().manual_seed(1)
    # float32 latents as the hosts use (ComfyUI's uni_pc and sa_solver refuse float64 with float32 σ's);
    # the reference is solved in float64
    noise = torch.randn(bed.samples, *bed.shape, generator=g, dtype=torch.float64).float()
    rows: list[dict] = []
    cache: dict = {}
    for group in bed.groups:
        start = time.perf_counter()
        ms = host.model_sampling(group.family, group.shift)
        classes = torch.arange(bed.samples) % bed.classes(group)
        extra = {"classes": classes, "cond_scale": group.guidance}
        model = bed.make_model(group)
        # every candidate's schedules for this group, to know where the references must start and end
        plan = {}
        for cand in candidates:
            if group.family not in cand.families:
                continue
            for nfe in bed.nfes:
                try:
                    steps = steps_for(host, cand, bed, group, ms, nfe, noise, extra, cache)
                except Exception as err:  # a sampler that cannot run this cell is reported, not fatal
                    plan[cand.name, nfe] = err
                    continue
                if steps is not None:
                    plan[cand.name, nfe] = (steps, _sigmas(host, cand, group, ms, steps))
        # the reference ends at the last σ > 0 of the plain schedule at each NFE's step count, and starts
        # where the sampler starts (schedules such as "ddim_uniform" start lower for more steps)
        plain = {nfe: host.base_sigmas(group.schedule, ms, nfe) for nfe in bed.nfes}
        levels = {nfe: _last_level(plain[nfe]) for nfe in bed.nfes}
        needed: dict[float, set[float]] = {}
        for nfe in bed.nfes:
            needed.setdefault(float(plain[nfe][0]), set()).add(levels[nfe])
        for (_, nfe), value in plan.items():
            if isinstance(value, tuple):
                needed.setdefault(float(value[1][0]), set()).add(levels[nfe])
        ends = {s0: _cached_reference(bed, group, model, host.first_latent(ms, s0, noise).double(), s0, sorted(lv),
                                      extra) for s0, lv in needed.items()}
        ref_calls = model.calls
        exact = _Exact(model, ends, bed.threshold(group), extra)
        for nfe in bed.nfes:
            base = {"bed": bed.name, "split": group.split, "group": group.label, "schedule": group.schedule,
                    "family": group.family, "shift": group.shift if group.family == "flow" else "",
                    "data": group.data, "guidance": group.guidance, "nfe": nfe}
            exact_burn = exact(float(plain[nfe][0]), levels[nfe])[1]
            rows.append({**base, "sampler": "exact", "steps": 0, "calls": 0, "error": 0.0, "burn": exact_burn,
                         "exact_burn": exact_burn, "seconds": 0.0, "note": f"sigma_last={levels[nfe]:.4g}"})
            for cand in candidates:
                row = {**base, "sampler": cand.name}
                value = plan.get((cand.name, nfe))
                if value is None or isinstance(value, Exception):
                    note = "n/a" if value is None else f"error: {value}"
                    rows.append({**row, "steps": 0, "calls": 0, "error": math.nan, "burn": math.nan,
                                 "exact_burn": math.nan, "seconds": 0.0, "note": note})
                    continue
                steps, sigmas = value
                ref, ref_burn = exact(float(sigmas[0]), levels[nfe])
                counted = bed.make_model(group)
                t0 = time.perf_counter()
                try:
                    out = host.run(cand, counted, ms, group.family, sigmas.clone(), noise, extra)
                    note = ""
                except Exception as err:
                    out, note = None, f"error: {type(err).__name__}: {err}"
                seconds = time.perf_counter() - t0
                if out is None:
                    rows.append({**row, "steps": steps, "calls": counted.calls, "error": math.nan, "burn": math.nan,
                                 "exact_burn": ref_burn, "seconds": seconds, "note": note})
                    continue
                err = rms_error(out, ref)
                rows.append({**row, "steps": steps, "calls": counted.calls, "error": err if math.isfinite(err) else math.inf,
                             "burn": out_of_range_percent(out, bed.threshold(group)), "exact_burn": ref_burn,
                             "seconds": seconds, "note": note})
        log(f"  {bed.name}: {group.label} ({group.split}) done in {time.perf_counter() - start:.0f} s "
            f"(reference {ref_calls} calls)")
    return rows


#: Where exact references are kept between runs (``python benchmark.py allround`` sets ``<out>/reference_cache``;
#: None: solved every time, as in the tests).
REFERENCE_CACHE: Path | None = None


def _cached_reference(bed: Bed, group: Group, model, x_init: torch.Tensor, sigma0: float, levels: list[float],
                      extra: dict) -> dict[float, torch.Tensor]:
    """:func:`reference_checkpoints`, kept on disk under :data:`REFERENCE_CACHE` keyed by everything it
    depends on (the first latent's bytes included), so a re-run of a group solves no reference again."""
    import hashlib

    if REFERENCE_CACHE is None:
        return reference_checkpoints(model, x_init, sigma0, levels, bed.steps_per_unit, extra)
    key = hashlib.sha256(repr((bed.name, bed.fingerprint, group, sigma0, levels, bed.steps_per_unit, extra["cond_scale"],
                               extra["classes"].tolist())).encode() + x_init.numpy().tobytes()).hexdigest()[:24]
    path = REFERENCE_CACHE / f"{bed.name}_{key}.pt"
    if path.is_file():
        return torch.load(path)
    ends = reference_checkpoints(model, x_init, sigma0, levels, bed.steps_per_unit, extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ends, path)
    return ends


class _Exact:
    """The exact result from σ0 for a schedule ending at ``level``: the final denoise of the reference
    state there, with its burn share; each computed once."""

    def __init__(self, model, ends: dict, threshold: float, extra: dict) -> None:
        self.model, self.ends, self.threshold, self.extra = model, ends, threshold, extra
        self.cache: dict[tuple[float, float], tuple[torch.Tensor, float]] = {}

    def __call__(self, s0: float, level: float) -> tuple[torch.Tensor, float]:
        if (s0, level) not in self.cache:
            state = self.ends[s0][level]
            ref = self.model(state, torch.full((state.shape[0],), level, dtype=torch.float64), **self.extra)
            self.cache[s0, level] = (ref, out_of_range_percent(ref, self.threshold))
        return self.cache[s0, level]


def _last_level(sigmas: torch.Tensor) -> float:
    return float(sigmas[sigmas > 0][-1])


def burns(row: dict, factor: float) -> bool:
    """The burn rule: share above ``factor``× the exact share and more than 0.1 points above it."""
    return math.isfinite(row["burn"]) and row["burn"] > factor * row["exact_burn"] and row["burn"] - row["exact_burn"] > 0.1


# --- scoring and tables -------------------------------------------------------------------------------


def add_ratios(rows: list[dict]) -> None:
    """ratio = error / the cell's best error (non-finite results get RATIO_CAP; n/a stays NaN)."""
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["sampler"] != "exact":
            cells.setdefault((r["bed"], r["group"], r["nfe"]), []).append(r)
    for cell in cells.values():
        finite = [r["error"] for r in cell if math.isfinite(r["error"])]
        best = min(finite) if finite else math.nan
        for r in cell:
            if math.isnan(r["error"]):
                r["ratio"] = math.nan
            elif not math.isfinite(r["error"]):
                r["ratio"] = RATIO_CAP
            else:
                r["ratio"] = min(RATIO_CAP, r["error"] / best) if best > 0 else 1.0


def _geo(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def scores(rows: list[dict], factor: float | None, min_burn_nfe: int = 6) -> list[dict]:
    """Per sampler: geometric-mean ratio, worst cell (and its row), cells run, burning cells (NFE ≥
    ``min_burn_nfe``; not counted without a burn ``factor``)."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        if r["sampler"] != "exact":
            by.setdefault(r["sampler"], []).append(r)
    out = []
    for name, rs in by.items():
        ran = [r for r in rs if not math.isnan(r["ratio"])]
        worst = max(ran, key=lambda r: r["ratio"]) if ran else None
        out.append({
            "sampler": name,
            "geo_mean": _geo([r["ratio"] for r in ran]),
            "worst": worst["ratio"] if worst else math.nan,
            "worst_cell": f"{worst['group']} NFE {worst['nfe']}" if worst else "",
            "worst_row": worst,
            "cells": len(ran),
            "of": len(rs),
            "burning_cells": 0 if factor is None else sum(burns(r, factor) for r in ran if r["nfe"] >= min_burn_nfe),
            "seconds": sum(r["seconds"] for r in rs),
        })
    return sorted(out, key=lambda s: (math.isnan(s["geo_mean"]), s["geo_mean"]))


def win_tie_loss(rows: list[dict], focus: str) -> tuple[int, int, int]:
    """Cells where ``focus`` is best by more than TIE (win), within TIE of the best (tie), or worse."""
    win = tie = loss = 0
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["sampler"] != "exact" and not math.isnan(r["ratio"]):
            cells.setdefault((r["group"], r["nfe"]), []).append(r)
    for cell in cells.values():
        mine = [r for r in cell if r["sampler"] == focus]
        if not mine:
            continue
        others = [r["ratio"] for r in cell if r["sampler"] != focus]
        ratio = mine[0]["ratio"]
        if ratio > TIE:
            loss += 1
        elif ratio == 1.0 and (not others or min(others) > TIE):
            win += 1
        else:
            tie += 1
    return win, tie, loss


def ranking_table(score_rows: list[dict]) -> str:
    lines = ["| # | sampler | geo-mean ratio | worst cell | worst at | cells | burning cells (NFE ≥ 6) | s |",
             "|---|---|---|---|---|---|---|---|"]
    for i, s in enumerate(score_rows, 1):
        lines.append(f"| {i} | {s['sampler']} | {s['geo_mean']:.2f} | {s['worst']:.1f} | {s['worst_cell']} | "
                     f"{s['cells']}/{s['of']} | {s['burning_cells']} | {s['seconds']:.0f} |")
    return "\n".join(lines)


def group_table(rows: list[dict], score_rows: list[dict]) -> str:
    groups = list(dict.fromkeys(r["group"] for r in rows))
    lines = ["| sampler | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
    for s in score_rows:
        cells = []
        for gname in groups:
            ratios = [r["ratio"] for r in rows if r["sampler"] == s["sampler"] and r["group"] == gname
                      and not math.isnan(r["ratio"])]
            cells.append(f"{_geo(ratios):.2f}" if ratios else "n/a")
        lines.append(f"| {s['sampler']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def burn_table(rows: list[dict], score_rows: list[dict], group: str) -> str:
    nfes = sorted({r["nfe"] for r in rows if r["group"] == group})
    exact = {r["nfe"]: r["burn"] for r in rows if r["group"] == group and r["sampler"] == "exact"}
    lines = ["| sampler | " + " | ".join(f"NFE {n}" for n in nfes) + " |", "|---|" + "---|" * len(nfes),
             "| exact | " + " | ".join(f"{exact[n]:.1f}" for n in nfes) + " |"]
    for s in score_rows:
        vals = {r["nfe"]: r["burn"] for r in rows if r["group"] == group and r["sampler"] == s["sampler"]}
        lines.append(f"| {s['sampler']} | " + " | ".join("n/a" if math.isnan(vals.get(n, math.nan)) else f"{vals[n]:.1f}"
                                                         for n in nfes) + " |")
    return "\n".join(lines)


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


# --- entry points -------------------------------------------------------------------------------------

#: The columns of the committed results (docs/results/allround_<bed>.csv).
RESULT_COLUMNS = ("bed", "split", "group", "schedule", "family", "shift", "data", "guidance", "nfe", "sampler",
                  "steps", "calls", "error", "burn", "exact_burn")


def section(bed: str, family: str) -> str:
    """The ranking a row counts towards: the analytic bed's VE and flow cells rank apart."""
    return f"{bed} {family}" if bed == "analytic" else bed


@dataclass
class AllroundResult:
    bed: str
    host: str
    rows: list[dict]
    scores: list[dict]
    seconds: float

    def score(self, sampler: str) -> dict:
        return next(s for s in self.scores if s["sampler"] == sampler)


def report_tables(rows: list[dict], factor: float, focus: str, log: Callable[[str], None]) -> list[dict]:
    """Print the rankings (report cells, tuning cells, per section) and return the report-cell scores."""
    splits = sorted({r["split"] for r in rows}, reverse=True)  # "tune" after "report"
    report_scores: list[dict] = []
    for split in splits:
        subset = [r for r in rows if r["split"] == split]
        split_scores = scores(subset, factor)
        report_scores = split_scores if split == "report" or not report_scores else report_scores
        what = "held-back report cells" if split == "report" else "tuning cells"
        log(f"\n### Ranking on the {what} ({len({(r['group'], r['nfe']) for r in subset})} cells): "
            "error / per-cell best, geometric mean and worst cell\n")
        log(ranking_table(split_scores))
        if any(x["sampler"] == focus for x in split_scores):
            w, t, lo = win_tie_loss(subset, focus)
            log(f"\n{focus}: wins {w}, ties {t} (within {TIE:g}× of the best), loses {lo} of {w + t + lo} cells")
        for name in dict.fromkeys(section(r["bed"], r["family"]) for r in subset):
            part = [r for r in subset if section(r["bed"], r["family"]) == name]
            log(f"\n#### {name}, {what}\n")
            log(ranking_table(scores(part, factor)[:12]))
        log(f"\n### Per group: geometric-mean ratio ({what})\n")
        log(group_table(subset, split_scores))
    return report_scores


def run_allround(
    samplers: dict[str, Callable | str] | None = None,
    bed: str = "analytic",
    quick: bool = False,
    include_builtin: bool = True,
    focus: str = "adaptive_3m",
    out_dir: str | None = "out",
    comfyui_path: str | None = None,
    groups: list[Group] | None = None,
    nfes: tuple[int, ...] | None = None,
    samples: int | None = None,
    only: Iterable[str] | None = None,
    baseline: str | Path | None = None,
    split: str | None = None,
    results: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> AllroundResult:
    """Run the all-round benchmark on one bed ("analytic", "digits" or "conv") and print its tables.

    ``samplers``: extra candidates, name → k-diffusion-style function ``fn(model, x, sigmas,
    extra_args=None, callback=None, disable=None, **kw)`` (bind parameters with ``functools.partial``;
    ``model_family`` ("ve"/"flow") is passed when the function accepts it), or name → the name of a
    registry sampler (run at its defaults, in ComfyUI through its ``ms_*`` name). They run beside the built-in
    competitors (``include_builtin=False``: only them, which scores them against each other) through the
    same path (in ComfyUI mode wrapped in ``KSAMPLER``). ``only`` keeps just the built-ins of those names.
    ``groups`` / ``nfes`` / ``samples`` override the bed's cells for quick looks; ``split`` ("tune" or
    "report") keeps only those cells.
    ``baseline``: the cells CSV of an earlier full run of this bed (``out/allround_<bed>_cells.csv``,
    same host): its samplers' results join the table without being run again, so only the extra
    samplers run (a new candidate is scored against every sampler in minutes).
    ``results``: a CSV path to write the rows to in the committed results' columns.
    Returns the rows (one per cell and sampler) and the per-sampler scores on the report cells.
    """
    host = make_host(comfyui_path)
    the_bed = make_bed(bed, quick)
    if groups is not None:
        the_bed.groups = list(groups)
    if split is not None:
        the_bed.groups = [g for g in the_bed.groups if g.split == split]
    if nfes is not None:
        the_bed.nfes = tuple(nfes)
    if samples is not None:
        the_bed.samples = samples
    candidates = host.builtin() if include_builtin and baseline is None else []
    if only is not None:
        keep = set(only)
        candidates = [c for c in candidates if c.name in keep]
    candidates += [host.wrap_extra(name, fn) for name, fn in (samplers or {}).items()]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        log(f"## All-round benchmark, {the_bed.name} bed ({len(the_bed.groups) * len(the_bed.nfes)} cells, "
            f"{the_bed.samples} samples), {host.name}\n")
        rows = measure(the_bed, host, candidates, log)
    finally:
        torch.set_num_threads(threads)
    if baseline is not None:
        rows += read_baseline(baseline, rows)
    add_ratios(rows)
    seconds = time.perf_counter() - start
    score_rows = report_tables(rows, the_bed.burn_factor, focus, log)
    top = max(the_bed.groups, key=lambda grp: (grp.family == "ve", grp.guidance))
    log(f"\n### Burn: % of values beyond the data range (×{the_bed.threshold(top):.2f}), {top.label}\n")
    log(burn_table(rows, score_rows, top.label))
    log(f"\n({seconds:.0f} s on one thread)")
    if out_dir is not None:
        Path(out_dir).mkdir(exist_ok=True)
        suffix = ("_quick" if quick else "") + ("_with_baseline" if baseline is not None else "")
        _write_csv(Path(out_dir, f"allround_{the_bed.name}{suffix}_cells.csv"), rows)
        _write_csv(Path(out_dir, f"allround_{the_bed.name}{suffix}_scores.csv"),
                   [{k: v for k, v in r.items() if k != "worst_row"} for r in score_rows])
    if results is not None:
        write_results(Path(results), rows)
    return AllroundResult(the_bed.name, host.name, rows, score_rows, seconds)


def write_results(path: Path, rows: list[dict]) -> None:
    """The rows in :data:`RESULT_COLUMNS`, errors to 4 significant digits (what the tables quote)."""
    def fmt(key: str, value):
        if key in ("error", "burn", "exact_burn") and isinstance(value, float):
            return "nan" if math.isnan(value) else ("inf" if math.isinf(value) else f"{value:.4g}")
        return value

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(RESULT_COLUMNS)
        for r in rows:
            writer.writerow([fmt(k, r.get(k, "")) for k in RESULT_COLUMNS])


def _read_rows(path: str | Path) -> list[dict]:
    """The rows of a cells or results CSV, typed (no ``ratio``: it depends on the cell's other rows)."""
    with Path(path).open(newline="") as f:
        return [{**{k: v for k, v in r.items() if k != "ratio"}, "nfe": int(r["nfe"]),
                 "guidance": float(r["guidance"]), "steps": int(r["steps"]), "calls": int(r["calls"]),
                 "error": float(r["error"]), "burn": float(r["burn"]), "exact_burn": float(r["exact_burn"]),
                 "seconds": float(r.get("seconds") or 0.0)} for r in csv.DictReader(f)]


def read_results(path: str | Path) -> list[dict]:
    """Rows of a results CSV written by :func:`write_results`, typed, with ``ratio`` added."""
    rows = _read_rows(path)
    add_ratios(rows)
    return rows


def read_baseline(path: str | Path, rows: list[dict]) -> list[dict]:
    """The rows of a cells CSV for the cells in ``rows`` (samplers other than "exact" and those in
    ``rows``)."""
    cells = {(r["group"], r["nfe"]) for r in rows}
    have = {r["sampler"] for r in rows}
    return [r for r in _read_rows(path)
            if (r["group"], r["nfe"]) in cells and r["sampler"] not in have and r["sampler"] != "exact"]


def load_extra(spec: str) -> tuple[str, Callable | str]:
    """``module:function`` (optionally ``name=module:function``) → (name, function); a bare registry
    name (``ghvb``) → (name, name)."""
    name, _, target = spec.rpartition("=")
    if ":" not in target:
        return (name or target), target
    module, _, attr = target.partition(":")
    fn = getattr(importlib.import_module(module), attr)
    return (name or attr), fn


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="benchmark.py allround", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bed", default="all", help=f"one of {', '.join(BEDS)}, a comma-separated list, or all")
    parser.add_argument("--split", choices=["tune", "report"], help="only the tuning or only the held-back cells")
    parser.add_argument("--quick", action="store_true", help="a few cells and samples (smoke run)")
    parser.add_argument("--extra", action="append", default=[], metavar="[NAME=]MODULE:FUNCTION",
                        help="an extra candidate sampler (k-diffusion signature), or a registry sampler's name; "
                        "repeatable")
    parser.add_argument("--only-extra", action="store_true", help="score the extra samplers against each other only")
    parser.add_argument("--baseline", metavar="CSV", help="cells CSV of an earlier full run of the bed (then only the "
                        "extra samplers run); with several beds, use {bed} in the path")
    parser.add_argument("--focus", default="adaptive_3m", help="the sampler whose wins/ties/losses are counted")
    parser.add_argument("--out", default="out")
    parser.add_argument("--save", action="store_true",
                        help="write the results the docs are generated from (docs/results/allround_<bed>.csv); "
                        "only for a full run (no --quick, --split or --baseline)")
    args = parser.parse_args(argv)
    if args.save and (args.quick or args.split or args.baseline or args.only_extra):
        parser.error("--save needs a full run")
    extras = dict(load_extra(s) for s in args.extra)
    global REFERENCE_CACHE
    REFERENCE_CACHE = Path(args.out) / "reference_cache"
    beds = BEDS if args.bed == "all" else tuple(args.bed.split(","))
    for bed in beds:
        baseline = args.baseline.format(bed=bed) if args.baseline else None
        results = RESULTS_DIR / f"allround_{bed}.csv" if args.save else None
        run_allround(extras, bed=bed, quick=args.quick, include_builtin=not args.only_extra, focus=args.focus,
                     out_dir=args.out, baseline=baseline, split=args.split, results=results)
        print()
