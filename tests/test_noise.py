"""Seeded noise streams and the ancestral re-noising rule (docs/noise.md), and the stochastic samplers'
reproducibility and batch consistency."""

from __future__ import annotations

import math

import pytest
import torch
from stochastic_support import analytic, flow_schedule

from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.sampling.common import sigma_ratio
from momentum_samplers.sampling.noise import (
    MOMENTUM_SEED_OFFSET,
    ancestral_keep,
    default_noise_sampler,
    draws_position_noise,
    noise_streams,
)
from momentum_samplers.testbed.gmm import image_mixture

STOCHASTIC = [name for name, spec in SAMPLER_SPECS.items() if spec.stochastic]


def test_default_noise_sampler_follows_comfyui():
    """A generator on x's device seeded with seed (+1 on the CPU, where the host drew the initial
    noise from seed itself); the global generator without a seed."""
    x = torch.zeros(2, 3, 4, dtype=torch.float64)
    sampler = default_noise_sampler(x, seed=42)
    g = torch.Generator().manual_seed(43)
    assert torch.equal(sampler(1.0, 0.5), torch.randn(x.shape, generator=g, dtype=x.dtype))
    assert torch.equal(sampler(0.5, 0.2), torch.randn(x.shape, generator=g, dtype=x.dtype))
    torch.manual_seed(5)
    first = default_noise_sampler(x)(1.0, 0.5)
    torch.manual_seed(5)
    assert torch.equal(first, torch.randn(x.shape, dtype=x.dtype))
    assert default_noise_sampler(x, seed=2**64 - 1)(1.0, 0.5).shape == x.shape  # wraps, never overflows


def test_streams_are_seeded_separately_and_reproducibly():
    x = torch.zeros(2, 8)
    a, b = noise_streams(x, {"seed": 7}), noise_streams(x, {"seed": 7})
    pos, mom = a.position(1.0, 0.5), a.momentum(1.0, 0.5)
    assert torch.equal(pos, b.position(1.0, 0.5)) and torch.equal(mom, b.momentum(1.0, 0.5))
    assert torch.equal(pos, default_noise_sampler(x, 7)(1.0, 0.5))
    assert torch.equal(mom, default_noise_sampler(x, 7 + MOMENTUM_SEED_OFFSET)(1.0, 0.5))
    assert not torch.equal(pos, mom)


def test_host_noise_sampler_feeds_position_only():
    x = torch.zeros(2, 8)
    host = lambda s, t: torch.ones(2, 8)
    streams = noise_streams(x, {"seed": 7}, noise_sampler=host)
    assert streams.position is host
    assert torch.equal(streams.momentum(1.0, 0.5), default_noise_sampler(x, 7 + MOMENTUM_SEED_OFFSET)(1.0, 0.5))
    own = lambda s, t: torch.zeros(2, 8)
    assert noise_streams(x, {}, noise_sampler=host, momentum_noise_sampler=own).momentum is own
    with pytest.raises(ValueError, match="momentum_noise_sampler must be a separate noise source from noise_sampler"):
        noise_streams(x, {}, noise_sampler=host, momentum_noise_sampler=host)


@pytest.mark.parametrize("eta", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("pair", [(14.6, 9.0), (80.0, 0.002), (1.0, 0.999), (0.5, 0.5)])
def test_ancestral_keep_is_k_diffusions_ancestral_step_ve(kdiff, eta, pair):
    sigma, sigma_next = pair
    down, up = kdiff.get_ancestral_step(torch.tensor(sigma, dtype=torch.float64), torch.tensor(sigma_next, dtype=torch.float64), eta)
    keep = ancestral_keep(sigma, sigma_next, eta, "ve")
    assert math.isclose(keep * sigma_next, float(down), rel_tol=1e-14, abs_tol=1e-300)
    assert math.isclose(sigma_next * math.sqrt(1 - keep**2), float(up), rel_tol=1e-12, abs_tol=1e-15)


@pytest.mark.parametrize("eta", [0.3, 1.0])
@pytest.mark.parametrize("pair", [(1.0, 0.9), (0.75, 0.5), (0.2, 0.01)])
def test_ancestral_keep_is_comfyuis_rf_rule_flow(eta, pair):
    sigma, sigma_next = pair
    sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * eta)
    alpha_next, alpha_down = 1 - sigma_next, 1 - sigma_down
    renoise = math.sqrt(sigma_next**2 - sigma_down**2 * alpha_next**2 / alpha_down**2)
    keep = ancestral_keep(sigma, sigma_next, eta, "flow")
    assert math.isclose(sigma_next * keep, alpha_next / alpha_down * sigma_down, rel_tol=1e-14)
    assert math.isclose(sigma_next * math.sqrt(1 - keep**2), renoise, rel_tol=1e-12)


def test_sigma_ratio_and_draw_rule():
    assert sigma_ratio(2.0, 1.0, "ve") == 0.5
    assert sigma_ratio(0.5, 0.5, "flow") == 1.0
    assert sigma_ratio(0.3, 0.0, "ve") == 0.0
    assert sigma_ratio(1.0, 0.5, "flow") == 0.0  # out of pure noise: σ̃ = ∞
    assert math.isclose(sigma_ratio(0.5, 0.25, "flow"), (0.25 / 0.75) / (0.5 / 0.5))
    assert draws_position_noise(0.5, 1.0) and not draws_position_noise(0.0, 1.0) and not draws_position_noise(0.5, 0.0)


# --- through the samplers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setup():
    mixture = image_mixture(shape=(1, 4, 4), n_classes=3, seed=1)
    g = torch.Generator().manual_seed(0)
    return mixture, torch.randn(3, 1, 4, 4, generator=g, dtype=torch.float64)


def _run(name, mixture, x, family="ve", **kwargs):
    sigmas = flow_schedule(6) if family == "flow" else torch.linspace(10, 0, 7, dtype=torch.float64)
    kwargs.setdefault("extra_args", {})
    return SAMPLER_SPECS[name].fn(
        analytic(mixture, family), x * float(sigmas[0]), sigmas, disable=True, model_family=family, **kwargs
    )


@pytest.mark.parametrize("name", STOCHASTIC)
@pytest.mark.parametrize("family", ["ve", "flow"])
def test_same_seed_same_bits_other_seed_other_image(setup, name, family):
    mixture, x = setup
    kw = {"lambda_s": 0.5} if name.startswith("split") else {}
    first = _run(name, mixture, x, family, extra_args={"seed": 3}, **kw)
    assert torch.equal(first, _run(name, mixture, x, family, extra_args={"seed": 3}, **kw))
    assert not torch.allclose(first, _run(name, mixture, x, family, extra_args={"seed": 4}, **kw))


@pytest.mark.parametrize("name", STOCHASTIC)
def test_without_a_seed_the_global_generator_drives_the_noise(setup, name):
    mixture, x = setup
    torch.manual_seed(9)
    first = _run(name, mixture, x)
    torch.manual_seed(9)
    assert torch.equal(first, _run(name, mixture, x))


def _per_image(x, seeds):
    """Noise drawn image by image from per-image generators, as a per-image-seeding host does."""
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    return lambda s, t: torch.stack([torch.randn(x.shape[1:], generator=g, dtype=x.dtype) for g in gens])


@pytest.mark.parametrize("name", STOCHASTIC)
def test_batch_items_are_independent(setup, name):
    """No state is shared across the batch (per-sample norms, elementwise momentum): with per-image
    noise, an image comes out the same alone or in a batch."""
    mixture, x = setup
    kw = {"lambda_s": 0.5} if name.startswith("split") else {}
    batch = _run(
        name, mixture, x, noise_sampler=_per_image(x, [1, 2, 3]), momentum_noise_sampler=_per_image(x, [11, 12, 13]), **kw
    )
    for k in range(3):
        alone = _run(
            name, mixture, x[k : k + 1], noise_sampler=_per_image(x[:1], [k + 1]),
            momentum_noise_sampler=_per_image(x[:1], [k + 11]), **kw,
        )
        assert (alone[0] - batch[k]).abs().max() < 1e-12


def test_a_brownian_tree_serves_the_position_stream(kdiff, setup):
    mixture, x = setup
    sigmas = torch.linspace(10, 0, 7, dtype=torch.float64)
    x = x * 10

    def tree():
        return kdiff.BrownianTreeNoiseSampler(x, 1.0, 10.0, seed=5)

    kw = {"lam": 0.0, "lambda_s": 1.0}
    ours = SAMPLER_SPECS["split_baoab"].fn(analytic(mixture), x, sigmas, disable=True, noise_sampler=tree(), **kw)
    theirs = kdiff.sample_euler_ancestral(analytic(mixture), x, sigmas, disable=True, noise_sampler=tree())
    assert (ours - theirs).abs().max() < 1e-12
