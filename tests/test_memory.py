"""Memory is a feature: each sampler's live allocations stay within its history plus the current and
next latent (docs/conventions.md#input-checks).

Measured with the benchmark's allocation tracker on a model that returns its input, so every latent
counted is the sampler's own. History: PLMS-HB/NT keep k differences and a velocity, GHVB k velocities,
DPM++2M-HB the previous D and a velocity, Adaptive 3M the previous D and the last difference of two, UniPC-HB two model values and two velocities. Stochastic
samplers also hold their fresh noise draws.
"""

from __future__ import annotations

import pytest
import torch

from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.testbed.bench_core import PeakLiveTensors, identity_model

SIGMAS = torch.tensor([14.6, 8.0, 4.0, 2.0, 1.0, 0.5, 0.2, 0.1, 0.05, 0.0])
HISTORY = {
    "plms_hb": lambda order: order + 1,
    "plms_nt": lambda order: order + 1,
    "ghvb": lambda order: order,
    "dpmpp_2m_hb": lambda order: 2,
    "unipc_hb": lambda order: 4,  # D_i, D_{i−1} and the predictor's and the corrector's velocities
    "adaptive_3m": lambda order: order - 1,  # D_{i−1} and D_{i−1} − D_{i−2}
}
# stochastic: (kept state, noise draws alive at once): momentum u / AMS's m and previous G
STOCHASTIC = {"ams": (2, 2), **{name: (1, 2) for name in SAMPLER_SPECS if name.startswith("split_")}}


def peak_latents(name: str, **params) -> float:
    x = torch.randn(1, 4, 32, 32) * 14.6
    with PeakLiveTensors() as mode:
        SAMPLER_SPECS[name].fn(identity_model, x, SIGMAS, disable=True, **params)
    return mode.peak / x.nbytes


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("name", ["plms_hb", "plms_nt", "ghvb", "adaptive_3m"])
def test_multistep_memory_is_bounded_by_the_order(name, order):
    if order > SAMPLER_SPECS[name].param("order").max:
        pytest.skip(f"{name} has no order {order}")
    assert peak_latents(name, order=order) <= HISTORY[name](order) + 2 + 0.01  # + scalars


def test_dpmpp_2m_hb_memory():
    assert peak_latents("dpmpp_2m_hb", beta=0.8) <= HISTORY["dpmpp_2m_hb"](None) + 2 + 0.01


@pytest.mark.parametrize("beta", [0.7, 1.0])
def test_unipc_hb_memory(beta):
    assert peak_latents("unipc_hb", beta=beta) <= HISTORY["unipc_hb"](None) + 2 + 0.01


@pytest.mark.parametrize("name", sorted(STOCHASTIC))
def test_stochastic_memory(name):
    state, draws = STOCHASTIC[name]
    # + the predicted noise being transformed and the model-side ε̂ of the corrector
    assert peak_latents(name) <= state + draws + 2 + 1 + 0.01


def test_every_registered_sampler_has_a_memory_bound():
    assert set(SAMPLER_SPECS) <= set(HISTORY) | set(STOCHASTIC)
