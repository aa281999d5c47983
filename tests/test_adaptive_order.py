"""Adaptive Order (docs/adaptive.md#adaptive-order): Adaptive 3M on smooth models, Euler at check 0, and
an order check that acts per image where the model's outputs stop following a polynomial.

Generic behaviour (schedules, dtypes, callbacks, NaN guard) is covered for every registered sampler by the
robustness tests, memory by test_memory, the measured order by test_convergence.
"""

from __future__ import annotations

import pytest
import torch
from adaptive_support import flow_sigmas, karras, start

from momentum_samplers.sampling import sample_adaptive_3m, sample_adaptive_order
from momentum_samplers.testbed.gmm import AnalyticDenoiser, image_mixture
from momentum_samplers.testbed.kdiffusion import load_k_diffusion_sampling


class Rough:
    """The analytic denoiser plus a part that is not smooth along the path: 0.25·sin(25·log σ)·tanh(x),
    scaled per image by its own content (images whose mean is below zero get almost none), so the check
    acts on some images of a batch and not on others. Deterministic, per image, float64."""

    def __init__(self, mixture) -> None:
        self.smooth = AnalyticDenoiser(mixture, "ve")

    def __call__(self, x, sigma, **kwargs):
        d = self.smooth(x, sigma, **kwargs)
        weight = torch.sigmoid(20.0 * x.flatten(1).mean(1)).view(-1, *([1] * (x.ndim - 1)))
        wiggle = torch.sin(25.0 * sigma.log()).view(-1, *([1] * (x.ndim - 1)))
        return d + 0.25 * weight * wiggle * torch.tanh(x)


@pytest.fixture(scope="module")
def mixture():
    return image_mixture(shape=(1, 16, 16))


@pytest.mark.parametrize("family", ["ve", "flow"])
@pytest.mark.parametrize("params", [{"check": 0.0}, {"order": 1}])
def test_check_0_and_order_1_are_euler(mixture, family, params):
    sigmas = karras(10) if family == "ve" else flow_sigmas(10)
    extra = {"classes": torch.arange(8) % 10, "cond_scale": 7.5}
    x = start(8) * sigmas[0]
    ours = sample_adaptive_order(AnalyticDenoiser(mixture, family), x, sigmas, extra_args=extra, disable=True,
                                 model_family=family, **params)
    euler = load_k_diffusion_sampling().sample_euler(AnalyticDenoiser(mixture, family), x, sigmas,
                                                     extra_args=extra, disable=True)
    assert (ours - euler).abs().max().item() < 1e-12


@pytest.mark.parametrize("steps", [8, 15, 30])
def test_on_a_smooth_model_it_is_adaptive_3m(mixture, steps):
    """Unguided analytic model: the line or the parabola predicts every new model value well, so the
    check never lowers the order and the result is Adaptive 3M's to rounding."""
    extra = {"classes": torch.arange(16) % 10, "cond_scale": 1.0}
    sigmas = karras(steps)
    x = start(16) * sigmas[0]
    model = AnalyticDenoiser(mixture, "ve")
    ours = sample_adaptive_order(model, x, sigmas, extra_args=extra, disable=True)
    theirs = sample_adaptive_3m(model, x, sigmas, extra_args=extra, disable=True)
    assert (ours - theirs).abs().max().item() < 1e-10


@pytest.fixture(scope="module")
def rough(mixture):
    model = Rough(mixture)
    extra = {"classes": torch.arange(16) % 10, "cond_scale": 1.0}
    return model, start(16, seed=4) * 14.6, extra


def test_on_a_rough_model_the_check_lowers_the_order_per_image(rough):
    """On the images whose model output wiggles along the path the check moves towards Euler; the others
    stay Adaptive 3M; and every image equals that image sampled alone."""
    model, x, extra = rough
    sigmas = karras(10)
    ours = sample_adaptive_order(model, x, sigmas, extra_args=extra, disable=True)
    plain = sample_adaptive_3m(model, x, sigmas, extra_args=extra, disable=True)
    changed = (ours - plain).flatten(1).abs().amax(1) > 1e-9
    assert 0 < int(changed.sum()) < len(changed)
    for b in [int(changed.nonzero()[0]), int((~changed).nonzero()[0]), 0, 15]:
        one = {"classes": extra["classes"][b:b + 1], "cond_scale": 1.0}
        alone = sample_adaptive_order(model, x[b:b + 1], sigmas, extra_args=one, disable=True)
        assert (alone[0] - ours[b]).abs().max().item() < 1e-12
