"""The demo's pictures: burn shows as saturated colour, and the sampler lists it draws from are
valid (a sampler added to DEMO_SAMPLERS must be registered; its stock counterpart must exist)."""

from __future__ import annotations

import torch

from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.testbed import demo
from momentum_samplers.testbed.gmm import image_mixture
from momentum_samplers.testbed.render import rgb_scale, tile, to_rgb


def test_data_fill_the_colour_range_and_burn_saturates():
    mixture = image_mixture(shape=(4, 8, 8), seed=3)
    data = mixture.sample(2000, generator=torch.Generator().manual_seed(0))
    scale = rgb_scale(data)
    clean = torch.stack([to_rgb(x, scale, zoom=1) for x in data[:200]])
    clipped = ((clean == 0) | (clean == 1)).double().mean()
    assert clipped < 0.01  # the exact data use the range and almost never clip
    assert clean.std() > 0.05
    burnt = to_rgb(data[0] * 20, scale, zoom=1)
    saturated = ((burnt == 0) | (burnt == 1)).any(dim=-1).double().mean()
    assert saturated > 0.9


def test_tiles_keep_pixels_unsmoothed():
    latents = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    image = tile(latents, scale=3.0, zoom=4, gap=2)
    assert image.shape == (12, 2 * 20 + 2, 3)
    block = image[:4, :4]
    assert torch.equal(block, block[:1, :1].expand(4, 4, 3))


def test_the_demo_lists_name_registered_samplers_and_existing_stock_runs():
    stock = set(demo.stock_runs(demo.load_k_diffusion_sampling()))
    assert demo.DEMO_SAMPLERS and set(demo.DEMO_SAMPLERS) <= set(SAMPLER_SPECS)
    assert not any(SAMPLER_SPECS[name].stochastic for name in demo.DEMO_SAMPLERS)
    assert set(demo.GRID_STOCK) <= stock
    for name in SAMPLER_SPECS:
        assert demo.counterpart(name) in stock | {"Euler a"}
