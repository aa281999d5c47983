"""The learned test bed (testbed/learned.py): the committed digits denoiser denoises held-out digits,
follows its class under guidance, handles flow latents, counts its calls and is deterministic; the
training is seeded."""

from __future__ import annotations

import pytest
import torch
from learned_support import require_sklearn

require_sklearn("the digits data set")

from momentum_samplers.testbed import learned  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return learned.load_digits_data()


@pytest.fixture(scope="module")
def net():
    return learned.load_net()


@pytest.mark.parametrize("sigma", [0.2, 0.5, 1.0])
def test_denoises_held_out_digits(net, data, sigma):
    _, _, held, held_labels = data
    g = torch.Generator().manual_seed(0)
    noisy = held + sigma * torch.randn(held.shape, generator=g)
    model = learned.LearnedDenoiser("ve", net=net)
    s = torch.full((held.shape[0],), sigma)
    mse_cond = (model(noisy, s, classes=held_labels) - held).pow(2).mean()
    mse_uncond = (model(noisy, s) - held).pow(2).mean()
    identity = (noisy - held).pow(2).mean()
    assert mse_uncond < 0.5 * identity
    assert mse_cond < mse_uncond  # knowing the class helps


def _nearest_centroid(x: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    centroids = torch.stack([images[labels == c].mean(0) for c in range(learned.N_CLASSES)]).reshape(10, -1)
    return torch.cdist(x.reshape(x.shape[0], -1), centroids).argmin(1)


def _euler(model, x, sigmas, **extra):
    for s, s_next in zip(sigmas[:-1], sigmas[1:], strict=True):
        d = model(x, s.expand(x.shape[0]), **extra)
        x = x + (x - d) / s * (s_next - s)
    return x


def test_guidance_selects_the_class(net, data):
    images, labels, _, _ = data
    n = 60
    classes = torch.arange(n) % 10
    sigmas = torch.exp(torch.linspace(torch.log(torch.tensor(14.6)), torch.log(torch.tensor(0.03)), 25))
    sigmas = torch.cat([sigmas, torch.zeros(1)])
    x = torch.randn(n, *learned.SHAPE, generator=torch.Generator().manual_seed(1)) * 14.6
    model = learned.LearnedDenoiser("ve", net=net)
    guided = _euler(model, x, sigmas, classes=classes, cond_scale=3.0)
    unguided = _euler(model, x, sigmas)
    hit_guided = (_nearest_centroid(guided, images, labels) == classes).float().mean()
    hit_unguided = (_nearest_centroid(unguided, images, labels) == classes).float().mean()
    assert hit_guided > 0.8
    assert hit_unguided < 0.4
    assert model.calls == 2 * (len(sigmas) - 1)  # cond and uncond in one call


def test_flow_form_matches_the_ve_network(net):
    ve = learned.LearnedDenoiser("ve", net=net)
    flow = learned.LearnedDenoiser("flow", net=net)
    x = torch.randn(8, *learned.SHAPE, generator=torch.Generator().manual_seed(2))
    classes = torch.arange(8)
    for sigma in (0.1, 0.5, 0.9):
        s = torch.full((8,), sigma)
        direct = flow(x, s, classes=classes, cond_scale=4.0)
        mapped = ve(x / (1 - sigma), s / (1 - sigma), classes=classes, cond_scale=4.0)
        torch.testing.assert_close(direct, mapped, rtol=1e-4, atol=1e-5)
    # finite and continuous at σ = 1, where the VE form's y = x/(1 − σ) is not
    at_one = flow(x, torch.ones(8), classes=classes, cond_scale=4.0)
    near_one = flow(x, torch.full((8,), 1 - 1e-6), classes=classes, cond_scale=4.0)
    assert torch.isfinite(at_one).all()
    torch.testing.assert_close(at_one, near_one, rtol=0, atol=1e-4)


def test_deterministic_and_dtype_preserving(net):
    model = learned.LearnedDenoiser("ve", net=net)
    x = torch.randn(4, *learned.SHAPE, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    s = torch.full((4,), 2.0, dtype=torch.float64)
    a = model(x, s, classes=torch.arange(4), cond_scale=7.5)
    b = learned.LearnedDenoiser("ve")(x, s, classes=torch.arange(4), cond_scale=7.5)
    assert a.dtype == torch.float64
    assert torch.equal(a, b)


def test_training_is_seeded():
    a = learned.train(steps=3, batch=16, log_every=0)
    b = learned.train(steps=3, batch=16, log_every=0)
    c = learned.train(steps=3, batch=16, seed=1, log_every=0)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))
