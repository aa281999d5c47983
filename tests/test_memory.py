"""Memory is a feature: each sampler's live allocations stay within its history plus the current and
next latent (docs/conventions.md#input-checks), in float32, float16 and bfloat16.

Measured with the benchmark's allocation tracker on a model that returns a new tensor, as real models
do, so the model value counts as one of the two. History: PLMS-HB/NT keep k differences and a velocity,
GHVB k velocities, DPM++2M-HB a copy of the previous D and a velocity, Adaptive 3M the previous D and the
last difference of two, UniPC-HB two model values and two velocities. Stochastic samplers also hold their
fresh noise draws.
"""

from __future__ import annotations

import pytest
import torch

from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.testbed.bench_core import PeakLiveTensors, copy_model

SIGMAS = torch.tensor([14.6, 8.0, 4.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.0])
DTYPES = [torch.float32, torch.float16, torch.bfloat16]
HISTORY = {
    "plms_hb": lambda order: order + 1,
    "plms_nt": lambda order: order + 1,
    "ghvb": lambda order: order,
    "dpmpp_2m_hb": lambda order: 2,
    "unipc_hb": lambda order: 4,  # D_i, D_{i−1} and the predictor's and the corrector's velocities
    "adaptive_3m": lambda order: order - 1,  # D_{i−1} and D_{i−1} − D_{i−2}
    # D_{i−1}, D_{i−1} − D_{i−2} and the last step's d2 direction (the order check's second test)
    "adaptive_order": lambda order: 0 if order == 1 else 3,
    # Adaptive Order's three and the noise-form half's three velocities (three at any order: the miss reads
    # ε_{i−2} back from them)
    "adaptive_blend": lambda order: 0 if order == 1 else 6,
}
# stochastic: (kept state, noise draws alive at once): momentum u / AMS's m and previous G
STOCHASTIC = {"ams": (2, 2), "sde_3m": (2, 1), **{name: (1, 2) for name in SAMPLER_SPECS if name.startswith("split_")}}
SLACK = 0.01  # per-image scalars


def peak_latents(name: str, dtype: torch.dtype, **params) -> float:
    x = (torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(0)) * 14.6).to(dtype)
    with PeakLiveTensors() as mode:
        SAMPLER_SPECS[name].fn(copy_model, x, SIGMAS, disable=True, **params)
    return mode.peak / x.nbytes


def orders(name: str) -> list[int]:
    spec = SAMPLER_SPECS[name].param("order")
    return list(range(spec.min, spec.max + 1))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    ("name", "order"),
    [(name, k) for name in ("plms_hb", "plms_nt", "ghvb", "adaptive_3m", "adaptive_order", "adaptive_blend")
     for k in orders(name)],
)
def test_multistep_memory_is_bounded_by_the_order(name, order, dtype):
    assert peak_latents(name, dtype, order=order) <= HISTORY[name](order) + 2 + SLACK


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("limit", [0.0, 1.0, 10.0])
def test_adaptive_3m_limit_costs_no_latent(limit, dtype):
    assert peak_latents("adaptive_3m", dtype, limit=limit) <= HISTORY["adaptive_3m"](3) + 2 + SLACK


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("beta", [0.8, 1.0])
def test_dpmpp_2m_hb_memory(beta, dtype):
    assert peak_latents("dpmpp_2m_hb", dtype, beta=beta) <= HISTORY["dpmpp_2m_hb"](None) + 2 + SLACK


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("beta", [0.7, 1.0])
def test_unipc_hb_memory(beta, dtype):
    assert peak_latents("unipc_hb", dtype, beta=beta) <= HISTORY["unipc_hb"](None) + 2 + SLACK


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(STOCHASTIC))
def test_stochastic_memory(name, dtype):
    state, draws = STOCHASTIC[name]
    # + the predicted noise being transformed and the model-side ε̂ of the corrector
    assert peak_latents(name, dtype) <= state + draws + 2 + 1 + SLACK


def test_every_registered_sampler_has_a_memory_bound():
    assert set(SAMPLER_SPECS) <= set(HISTORY) | set(STOCHASTIC)


def test_the_tracker_counts_a_float32_copy():
    """The bound can fail: upcasting a half-precision latent shows as two more latents."""
    x = torch.randn(2, 4, 32, 32).half()
    with PeakLiveTensors() as mode:
        y = x.float()
    assert mode.peak / x.nbytes == pytest.approx(2.0) and y.dtype == torch.float32
