"""The learned test bed: a small class-conditional denoiser trained on the 8×8 digits that
scikit-learn ships (``sklearn.datasets.load_digits``, 1797 images, 10 classes).

The analytic mixture's denoiser is smooth everywhere; a trained network is not, and few-step samplers
at high guidance can drive it off the data it has seen, where it extrapolates and the sample burns.
This bed shows that.

- Data: pixel values 0..16 mapped to [-1, 1] (x0 = v/8 − 1), latents (1, 8, 8). Every tenth image
  (index ≡ 0 mod 10) is held out from training.
- Network: a residual MLP (width 256, 4 blocks) with EDM preconditioning (Karras et al. 2022):
  D(x; σ) = c_skip·x + c_out·F(c_in·x, c_noise, class), c_skip = σ_d²/(σ² + σ_d²),
  c_out = σ·σ_d/√(σ² + σ_d²), c_in = 1/√(σ² + σ_d²), c_noise = ln(σ)/4, σ_d = 0.75 (the data's std).
- Guidance: class 10 is the null class (labels dropped to it with probability 0.15 in training);
  D_w = D_u + w·(D_c − D_u) as the hosts combine cond and uncond predictions.
- Flow latents x = (1 − σ)·x0 + σ·n use the same network through y = x/(1 − σ), σ̃ = σ/(1 − σ),
  written so that every factor stays finite at σ = 1 (c_in·y = x/√(σ² + σ_d²(1 − σ)²), …).
- Training is seeded and single-threaded, so :func:`train` rebuilds the committed weights
  (``learned_digits.safetensors``, float16, 836 k parameters, 1.7 MB) byte for byte on the same torch
  build: ``python benchmark.py train-learned`` (5000 steps of 256, about 9 minutes on one core).

The burn metric of this bed is :func:`far_out_percent`: the share of values with |x| > 3, i.e. beyond
three times the data range, compared with the exact solution's share (strong guidance pushes even the
exact ODE solution somewhat outside [-1, 1]).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

WEIGHTS = Path(__file__).resolve().parent / "learned_digits.safetensors"
SIGMA_DATA = 0.75
SIGMA_MIN_TRAIN = 0.002
SIGMA_MAX_TRAIN = 80.0
N_CLASSES = 10
NULL_CLASS = N_CLASSES
SHAPE = (1, 8, 8)
FAR_OUT = 3.0
WIDTH = 256
BLOCKS = 4
FOURIER = 16


def load_digits_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train images, train labels, held-out images, held-out labels); images (n, 1, 8, 8) in [-1, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.data, dtype=torch.float32).reshape(-1, *SHAPE) / 8.0 - 1.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    held = torch.arange(images.shape[0]) % 10 == 0
    return images[~held], labels[~held], images[held], labels[held]


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.emb = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = self.fc1(nn.functional.silu(self.norm(h))) + self.emb(e)
        return h + self.fc2(nn.functional.silu(z))


class DigitsNet(nn.Module):
    """F(c_in·x, c_noise, class): the raw network inside the EDM preconditioning."""

    def __init__(self, width: int = WIDTH, blocks: int = BLOCKS) -> None:
        super().__init__()
        dim = math.prod(SHAPE)
        self.register_buffer("freqs", torch.arange(1, FOURIER + 1, dtype=torch.float32) * math.pi / 2)
        self.noise_in = nn.Linear(2 * FOURIER, width)
        self.class_in = nn.Embedding(N_CLASSES + 1, width)
        self.x_in = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(_Block(width) for _ in range(blocks))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, dim)

    def forward(self, x_in: torch.Tensor, c_noise: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        angles = c_noise[:, None] * self.freqs[None, :]
        e = nn.functional.silu(self.noise_in(torch.cat([angles.sin(), angles.cos()], dim=1)) + self.class_in(classes))
        h = self.x_in(x_in.reshape(x_in.shape[0], -1))
        for block in self.blocks:
            h = block(h, e)
        return self.out(nn.functional.silu(self.out_norm(h))).reshape(x_in.shape)


def _precondition(sigma: torch.Tensor, family: str) -> tuple[torch.Tensor, ...]:
    """(a, b, c, c_noise) with D = a·x + c·F(b·x, c_noise, class) for latents x of ``family``."""
    sd2 = SIGMA_DATA**2
    if family == "ve":
        denom = (sigma**2 + sd2).sqrt()
        a, b, c, s = sd2 / denom**2, 1.0 / denom, sigma * SIGMA_DATA / denom, sigma
    else:  # flow: y = x/(1 − σ), σ̃ = σ/(1 − σ), every factor multiplied through by (1 − σ)
        one_minus = (1.0 - sigma).clamp(min=0.0)
        denom = (sigma**2 + sd2 * one_minus**2).sqrt()
        a, b, c = sd2 * one_minus / denom**2, 1.0 / denom, sigma * SIGMA_DATA / denom
        s = sigma / one_minus.clamp(min=1e-12)
    c_noise = s.clamp(SIGMA_MIN_TRAIN, SIGMA_MAX_TRAIN).log() / 4
    return a, b, c, c_noise


class LearnedDenoiser:
    """The trained digits network as a k-diffusion model: ``model(x, sigma, classes=None,
    cond_scale=1.0)`` returns the guided D(x; σ) for a per-sample ``sigma`` vector, counting its
    calls like :class:`~.gmm.AnalyticDenoiser` (one call = one guided evaluation, cond and uncond in one
    batch, as in the hosts). ``family`` is ``"ve"`` or ``"flow"``; samplers are told it as ``model_family``.
    """

    null_class = NULL_CLASS

    def __init__(self, family: str = "ve", net: DigitsNet | None = None, path: str | Path = WEIGHTS) -> None:
        if family not in ("ve", "flow"):
            raise ValueError(f"family must be 've' or 'flow', got {family!r}")
        self.net = load_net(path) if net is None else net
        self.family = family
        self.calls = 0

    @torch.no_grad()
    def __call__(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor,
        classes: torch.Tensor | None = None,
        cond_scale: float = 1.0,
        **host_args: object,
    ) -> torch.Tensor:
        """D(x; σ); other keyword arguments (a host's ``seed``, ``model_options``…) are ignored."""
        self.calls += 1
        n = x.shape[0]
        xf = x.float()
        sigma = sigma.reshape(-1).float().expand(n)
        a, b, c, c_noise = (t.reshape(-1, 1, 1, 1) if t.dim() else t for t in _precondition(sigma, self.family))
        c_noise = c_noise.reshape(-1)
        null = torch.full((n,), self.null_class, dtype=torch.long)
        if classes is None or cond_scale == 0.0:
            f = self.net(b * xf, c_noise, null)
        elif cond_scale == 1.0:
            f = self.net(b * xf, c_noise, classes.long())
        else:
            both = self.net(torch.cat([b * xf, b * xf]), torch.cat([c_noise, c_noise]), torch.cat([classes.long(), null]))
            cond, uncond = both[:n], both[n:]
            f = uncond + cond_scale * (cond - uncond)
        return (a * xf + c * f).to(x.dtype)

    def noise_to(self, x0: torch.Tensor, noise: torch.Tensor, sigma: float) -> torch.Tensor:
        """The latent at level σ for this family: x0 + σ·n (VE) or (1 − σ)·x0 + σ·n (flow)."""
        return x0 + sigma * noise if self.family == "ve" else (1.0 - sigma) * x0 + sigma * noise


def far_out_percent(x: torch.Tensor, threshold: float = FAR_OUT) -> float:
    """Percent of values with |x| > ``threshold`` (default 3, three times the data range)."""
    return float((x.abs() > threshold).double().mean() * 100)


def _sample_sigmas(n: int, g: torch.Generator) -> torch.Tensor:
    """Half log-normal around the perceptually important levels (EDM), half log-uniform over the whole
    range the samplers visit, so the network is trained at high σ too."""
    lognormal = (torch.randn(n, generator=g) * 1.4 - 0.6).exp()
    lo, hi = math.log(SIGMA_MIN_TRAIN), math.log(SIGMA_MAX_TRAIN)
    uniform = (torch.rand(n, generator=g) * (hi - lo) + lo).exp()
    pick = torch.rand(n, generator=g) < 0.5
    return torch.where(pick, lognormal, uniform).clamp(SIGMA_MIN_TRAIN, SIGMA_MAX_TRAIN)


def train(
    steps: int = 5000,
    batch: int = 256,
    lr: float = 2e-3,
    seed: int = 0,
    label_dropout: float = 0.15,
    ema_decay: float = 0.999,
    log_every: int = 1000,
) -> DigitsNet:
    """Train the digits denoiser (EDM loss weighting, AdamW, cosine learning rate, EMA weights) on one
    thread; returns the EMA network. Deterministic for a given seed and torch build."""
    return train_edm(DigitsNet, lambda: load_digits_data()[:2], NULL_CLASS, steps=steps, batch=batch, lr=lr,
                     seed=seed, label_dropout=label_dropout, ema_decay=ema_decay, log_every=log_every)


def train_edm(
    make_net: Callable[[], nn.Module],
    load: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    null_class: int,
    *,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    label_dropout: float,
    ema_decay: float,
    log_every: int,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
) -> nn.Module:
    """The learned beds' training: EDM loss weighting on F's target, AdamW, cosine learning rate, EMA
    weights, labels dropped to ``null_class`` with probability ``label_dropout``, on one thread from
    ``seed``. ``load()`` gives (images, labels); ``augment(x0, g)`` (optional) draws from the same
    generator right after the batch is picked, so a bed's weights rebuild byte for byte."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        g = torch.Generator().manual_seed(seed)
        images, labels = load()
        net = make_net()
        ema = make_net()
        ema.load_state_dict(net.state_dict())
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / steps)))
        view = (-1, 1, 1, 1)
        start = time.perf_counter()
        running = 0.0
        for step in range(steps):
            idx = torch.randint(0, images.shape[0], (batch,), generator=g)
            x0, cls = images[idx], labels[idx].clone()
            if augment is not None:
                x0 = augment(x0, g)
            cls[torch.rand(batch, generator=g) < label_dropout] = null_class
            sigma = _sample_sigmas(batch, g)
            noise = torch.randn(x0.shape, generator=g)
            a, b, c, c_noise = _precondition(sigma, "ve")
            x = x0 + sigma.reshape(view) * noise
            # EDM: the loss on D weighted by 1/c_out² is the plain loss on F's target
            target = (x0 - a.reshape(view) * x) / c.reshape(view)
            loss = (net(b.reshape(view) * x, c_noise, cls) - target).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), net.parameters(), strict=True):
                    pe.lerp_(p, 1.0 - ema_decay)
            running += loss.item()
            if log_every and (step + 1) % log_every == 0:
                print(f"step {step + 1}/{steps}  loss {running / log_every:.4f}  {time.perf_counter() - start:.0f} s")
                running = 0.0
        return ema.eval()
    finally:
        torch.set_num_threads(threads)


def save_net(net: nn.Module, path: str | Path = WEIGHTS) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items() if k != "freqs"}
    # no metadata: its key order is not stable between saves, and the file should rebuild byte for byte
    save_file(tensors, str(path))


def load_net(path: str | Path = WEIGHTS, make_net: Callable[[], nn.Module] = DigitsNet) -> nn.Module:
    """The committed network, in float32 (weights stored as float16)."""
    from safetensors.torch import load_file

    net = make_net()
    state = {k: v.float() for k, v in load_file(str(path)).items()}
    state["freqs"] = net.freqs
    net.load_state_dict(state)
    return net.eval()


def main(path: str | Path = WEIGHTS) -> None:
    """Rebuild the committed weights: ``python benchmark.py train-learned``."""
    net = train()
    save_net(net, path)
    print(f"wrote {path}")
