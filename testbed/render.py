"""Latents of the analytic test bed as pictures that show burn honestly.

A latent (4, H, W) becomes RGB through one fixed linear map, the same for every sampler and every
image, scaled so that the exact data fill the colour range: a value beyond the data range is clipped,
so a diverged (burnt) latent shows as flat, fully saturated colour, exactly where it left the range.
Pixels are enlarged without smoothing, so what is shown is the latent itself.
"""

from __future__ import annotations

import torch

# Each channel gets its own hue; the fourth shifts red against blue (a colour-opponent axis), so no
# channel is invisible and no two channels look alike.
LATENT_TO_RGB = torch.tensor([
    [0.70, 0.05, 0.15, 0.35],
    [0.15, 0.70, 0.10, 0.00],
    [0.10, 0.20, 0.70, -0.35],
], dtype=torch.float64)


def rgb_scale(data: torch.Tensor, quantile: float = 0.999) -> float:
    """The colour scale: the ``quantile`` of |RGB| over exact data samples (n, 4, H, W), so that the
    data fill [0, 1] and only values beyond the data range clip."""
    rgb = torch.einsum("rc,nchw->nrhw", LATENT_TO_RGB, data.double())
    return float(torch.quantile(rgb.abs().reshape(-1)[:2_000_000], quantile))


def to_rgb(latent: torch.Tensor, scale: float, zoom: int = 6) -> torch.Tensor:
    """(4, H, W) latent → (H·zoom, W·zoom, 3) RGB in [0, 1], values beyond ±scale clipped."""
    if latent.ndim != 3 or latent.shape[0] != LATENT_TO_RGB.shape[1]:
        raise ValueError(f"expected a (4, H, W) latent, got {tuple(latent.shape)}")
    rgb = torch.einsum("rc,chw->hwr", LATENT_TO_RGB, latent.double())
    rgb = (0.5 + 0.5 * rgb / scale).clamp(0.0, 1.0)
    return rgb.repeat_interleave(zoom, 0).repeat_interleave(zoom, 1)


def tile(latents: torch.Tensor, scale: float, zoom: int = 6, gap: int = 2) -> torch.Tensor:
    """Several latents (n, 4, H, W) side by side, separated by ``gap`` white pixels."""
    images = [to_rgb(x, scale, zoom) for x in latents]
    height = images[0].shape[0]
    parts = []
    for k, image in enumerate(images):
        if k:
            parts.append(torch.ones(height, gap, 3, dtype=image.dtype))
        parts.append(image)
    return torch.cat(parts, dim=1)
