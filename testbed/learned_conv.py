"""The convolutional learned test bed: a small class-conditional U-Net denoiser trained on patches of
the two natural photographs that scikit-learn ships (``sklearn.datasets.load_sample_images``:
china.jpg and flower.jpg, 427×640 RGB each).

The digits bed (:mod:`.learned`) is an MLP on 8×8 greyscale images; this one has spatial structure,
colour and convolutions, closer to a real latent-diffusion network. Its interface is the digits bed's,
so a benchmark can swap the two.

- Data: each photograph area-averaged 2×2 to 213×320, values v/127.5 − 1 in [−1, 1]; latents are 16×16
  crops (32×32 of the original), shape (3, 16, 16). The right fifth of each image (downsampled columns
  ≥ 256) is held out: training crops lie left of it on a stride-2 grid (23 958 crops, mirrored at
  random in training), held-out crops inside it on a stride-4 grid (1 300).
- Classes: 8 colour classes from a deterministic k-means on the per-crop mean colour (Lloyd's
  algorithm in float64, started from the crops at the luminance octiles), so a class fixes the
  palette (sky, foliage, petals, roof, …) and strong guidance pulls hard towards it. Held-out crops
  take the nearest centre.
- Network (:class:`ConvNet`): a U-Net over 16×16 → 8×8 → 4×4 with 16 / 32 / 64 channels, residual
  blocks (GroupNorm, SiLU, 3×3 convolutions, the noise + class embedding added between the two
  convolutions), additive skip connections; the channels grow where the image is small, so most of
  the parameters sit where the computation is cheap.
- Preconditioning, guidance, flow latents and training σ's are those of :mod:`.learned` (EDM with
  σ_data = 0.75; the pixels' std is 0.6), null class 8 with label dropout 0.15.
- Training is seeded and single-threaded, so :func:`train` rebuilds the committed weights
  (``learned_conv.safetensors``, float16) byte for byte on the same torch build:
  ``python benchmark.py train-conv``.

The burn metric is :func:`~.learned.far_out_percent`, the share of values with |x| > 3.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
from torch import nn

from . import learned
from .learned import FAR_OUT, LearnedDenoiser, far_out_percent, save_net, train_edm

__all__ = [
    "FAR_OUT", "N_CLASSES", "NULL_CLASS", "SHAPE", "WEIGHTS", "ConvDenoiser", "ConvNet", "far_out_percent",
    "load_data", "load_net", "main", "save_net", "train",
]

WEIGHTS = Path(__file__).resolve().parent / "learned_conv.safetensors"
SHAPE = (3, 16, 16)
N_CLASSES = 8
NULL_CLASS = N_CLASSES
CHANNELS = (16, 32, 64)
EMBED = 128
FOURIER = 16
HELD_OUT_COLUMN = 256  # of the 2× downsampled 320 columns


def _photos() -> list[torch.Tensor]:
    """The two photographs, 2×2 area-averaged, as (3, 213, 320) in [−1, 1]."""
    from sklearn.datasets import load_sample_images

    out = []
    for image in load_sample_images().images:
        t = torch.tensor(image[: image.shape[0] // 2 * 2], dtype=torch.float64).permute(2, 0, 1)
        out.append(nn.functional.avg_pool2d(t[None], 2)[0] / 127.5 - 1.0)
    return out


def _crops(photo: torch.Tensor, columns: range, stride: int) -> torch.Tensor:
    size = SHAPE[1]
    windows = photo[:, :, columns.start : columns.stop + size - 1].unfold(1, size, stride).unfold(2, size, columns.step)
    return windows.permute(1, 2, 0, 3, 4).reshape(-1, SHAPE[0], size, size)


def _kmeans(points: torch.Tensor, k: int, iterations: int = 100) -> torch.Tensor:
    """Lloyd's algorithm, started from the points at the luminance quantiles (i + ½)/k: deterministic."""
    order = points.sum(1).argsort()
    centres = points[order[((torch.arange(k) + 0.5) / k * points.shape[0]).long()]].clone()
    for _ in range(iterations):
        nearest = torch.cdist(points, centres).argmin(1)
        centres = torch.stack([points[nearest == j].mean(0) for j in range(k)])
    return centres


@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    size = SHAPE[1]
    train, held = [], []
    for photo in _photos():
        train.append(_crops(photo, range(0, HELD_OUT_COLUMN - size + 1, 2), 2))
        held.append(_crops(photo, range(HELD_OUT_COLUMN, photo.shape[2] - size + 1, 4), 4))
    train_x, held_x = torch.cat(train), torch.cat(held)
    centres = _kmeans(train_x.mean((2, 3)), N_CLASSES)
    train_y = torch.cdist(train_x.mean((2, 3)), centres).argmin(1)
    held_y = torch.cdist(held_x.mean((2, 3)), centres).argmin(1)
    return train_x.float(), train_y, held_x.float(), held_y


def load_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train crops, train classes, held-out crops, held-out classes); crops (n, 3, 16, 16) in [−1, 1]."""
    return tuple(t.clone() for t in _dataset())  # type: ignore[return-value]


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.emb = nn.Linear(EMBED, channels)
        self.norm2 = nn.GroupNorm(8, channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = self.conv1(nn.functional.silu(self.norm1(h))) + self.emb(e)[:, :, None, None]
        return h + self.conv2(nn.functional.silu(self.norm2(z)))


def _upsample(h: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2× upsampling (torch's interpolate is many times slower on CPU here)."""
    n, c, rows, cols = h.shape
    return h[:, :, :, None, :, None].expand(n, c, rows, 2, cols, 2).reshape(n, c, 2 * rows, 2 * cols)


class ConvNet(nn.Module):
    """F(c_in·x, c_noise, class): the U-Net inside the EDM preconditioning."""

    def __init__(self, channels: tuple[int, int, int] = CHANNELS) -> None:
        super().__init__()
        c16, c8, c4 = channels
        self.register_buffer("freqs", torch.arange(1, FOURIER + 1, dtype=torch.float32) * math.pi / 2)
        self.noise_in = nn.Linear(2 * FOURIER, EMBED)
        self.class_in = nn.Embedding(N_CLASSES + 1, EMBED)
        self.embed = nn.Linear(EMBED, EMBED)
        self.x_in = nn.Conv2d(SHAPE[0], c16, 3, padding=1)
        self.down16 = _ResBlock(c16)
        self.to8 = nn.Conv2d(c16, c8, 3, stride=2, padding=1)
        self.down8 = _ResBlock(c8)
        self.to4 = nn.Conv2d(c8, c4, 3, stride=2, padding=1)
        self.mid = nn.ModuleList([_ResBlock(c4), _ResBlock(c4)])
        self.from4 = nn.Conv2d(c4, c8, 1)
        self.up8 = _ResBlock(c8)
        self.from8 = nn.Conv2d(c8, c16, 1)
        self.up16 = _ResBlock(c16)
        self.out_norm = nn.GroupNorm(8, c16)
        self.out = nn.Conv2d(c16, SHAPE[0], 3, padding=1)

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        angles = c_noise[:, None] * self.freqs[None, :]
        e = nn.functional.silu(self.noise_in(torch.cat([angles.sin(), angles.cos()], dim=1)) + self.class_in(classes))
        e = nn.functional.silu(self.embed(e))
        h16 = self.down16(self.x_in(x_in), e)
        h8 = self.down8(self.to8(h16), e)
        h = self.to4(h8)
        for block in self.mid:
            h = block(h, e)
        h = self.up8(h8 + _upsample(self.from4(h)), e)
        h = self.up16(h16 + _upsample(self.from8(h)), e)
        return self.out(nn.functional.silu(self.out_norm(h)))


class ConvDenoiser(LearnedDenoiser):
    """The trained U-Net as a k-diffusion model, as :class:`~.learned.LearnedDenoiser` (same call,
    ``calls`` counter, ``noise_to``, ``family`` "ve" or "flow"); only the network and its null class differ."""

    null_class = NULL_CLASS

    def __init__(self, family: str = "ve", net: ConvNet | None = None, path: str | Path = WEIGHTS) -> None:
        super().__init__(family, net=load_net(path) if net is None else net)


def train(
    steps: int = 2400,
    batch: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    label_dropout: float = 0.15,
    ema_decay: float = 0.999,
    log_every: int = 200,
) -> ConvNet:
    """Train the U-Net (EDM loss weighting, AdamW, cosine learning rate, EMA weights; crops mirrored at
    random) on one thread; returns the EMA network. Deterministic for a given seed and torch build."""
    return train_edm(ConvNet, lambda: _dataset()[:2], NULL_CLASS, steps=steps, batch=batch, lr=lr, seed=seed,
                     label_dropout=label_dropout, ema_decay=ema_decay, log_every=log_every, augment=_mirror)


def _mirror(x0: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Each crop mirrored left to right with probability 1/2."""
    flip = torch.rand(x0.shape[0], generator=g) < 0.5
    return torch.where(flip.reshape(-1, 1, 1, 1), x0.flip(3), x0)


def load_net(path: str | Path = WEIGHTS) -> ConvNet:
    """The committed network, in float32 (weights stored as float16)."""
    return learned.load_net(path, ConvNet)


def main(path: str | Path = WEIGHTS) -> None:
    """Rebuild the committed weights: ``python benchmark.py train-conv``."""
    net = train()
    save_net(net, path)
    print(f"wrote {path}")
