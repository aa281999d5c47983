"""The recommendation stays first: on a reduced grid of held-back report cells (other schedules, guidance
scales and data laws than its default was chosen on; VE latents, where every k-diffusion sampler runs),
host-free, the recommended sampler has the lowest geometric-mean error ratio against every k-diffusion
sampler the benchmark runs (docs/benchmark.md#all-rounder-ranking has the full benchmark). The grid
mixes low and high guidance and schedules on which different samplers lead.
"""

from __future__ import annotations

import math

import pytest

from momentum_samplers.testbed import bench_allround as b
from momentum_samplers.testbed.allround_tables import RECOMMENDED

ANALYTIC = [
    b.Group("exponential", "ve", 10.0, 3.0, "B", "report"),
    b.Group("exponential", "ve", 5.0, 3.0, "C", "report"),
    b.Group("sgm_uniform", "ve", 5.0, 3.0, "B", "report"),
    b.Group("ddim_uniform", "ve", 2.0, 3.0, "B", "report"),
    b.Group("beta", "ve", 2.0, 3.0, "C", "report"),
]
DIGITS = [b.Group(s, "ve", w, split="report") for s, w in (("beta", 5.0), ("exponential", 12.0), ("kl_optimal", 4.0),
                                                            ("normal", 2.0))]


def k_diffusion_and(name: str, bed: str, groups: list[b.Group]) -> list[dict]:
    host = b.HostFree()
    keep = [c.name for c in host.builtin() if c.name not in b.SAMPLER_SPECS] + [name]
    return b.run_allround(bed=bed, groups=groups, nfes=(6, 10, 20), samples=16, only=keep, comfyui_path="",
                          out_dir=None, log=lambda _: None).scores


@pytest.mark.parametrize(("bed", "groups"), [("analytic", ANALYTIC), ("digits", DIGITS)])
def test_the_recommended_sampler_is_first(bed, groups):
    scores = k_diffusion_and(RECOMMENDED, bed, groups)
    ranked = [s for s in scores if not math.isnan(s["geo_mean"])]
    assert ranked[0]["sampler"] == RECOMMENDED, [(s["sampler"], round(s["geo_mean"], 2)) for s in ranked[:4]]
    assert ranked[0]["worst"] < 3.0
