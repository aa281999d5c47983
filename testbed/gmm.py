"""An analytic diffusion model: a Gaussian-mixture data distribution whose exact denoiser
D(x; σ) = E[x0 | x] is known in closed form (docs/testbed.md#the-analytic-gaussian-mixture).

Data x0 ~ Σ_k π_k N(μ_k, diag(v_k)) in R^d (d = the latent's element count), each component tagged
with a class. The denoiser is exact for the VE form x = x0 + σ·n (what SD-type hosts pass) and the
flow-matching form x = (1 − σ)·x0 + σ·n (SD3 / Flux), class-conditional and unconditional, combined by
classifier-free guidance D_w = D_u + w·(D_c − D_u) as the hosts do.

    D(y; σ) = Σ_k r_k(y)·(μ_k + v_k/(v_k + σ²)·(y − μ_k)),   r_k ∝ π_k·N(y; μ_k, v_k + σ²)

costs O(N·K·d) with a few matrix products and never forms an N×K×d tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GaussianMixture:
    """Diagonal Gaussian mixture on latents of ``shape``: ``weights`` (K,), ``means`` and
    ``variances`` (K, d), ``labels`` (K,) the class of each component.

    With ``rotation`` = (R_h, R_w), orthonormal, the mixture is diagonal in the coefficients
    c = R_h·x·R_wᵀ of each (H, W) channel, and every public method takes and returns pixels x.
    """

    weights: torch.Tensor
    means: torch.Tensor
    variances: torch.Tensor
    labels: torch.Tensor
    shape: tuple[int, ...]
    rotation: tuple[torch.Tensor, torch.Tensor] | None = None

    def _to_coeffs(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.rotation is None else self.rotation[0] @ x @ self.rotation[1].T

    def _to_pixels(self, c: torch.Tensor) -> torch.Tensor:
        return c if self.rotation is None else self.rotation[0].T @ c @ self.rotation[1]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1

    def sample(self, n: int, classes: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """n exact samples (n, *shape); with ``classes`` (n,) from each sample's class only."""
        probs = self.weights.expand(n, -1).clone()
        if classes is not None:
            probs = probs * (self.labels[None, :] == classes[:, None])
        comp = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        noise = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        x0 = self.means[comp] + self.variances[comp].sqrt() * noise
        return self._to_pixels(x0.reshape(n, *self.shape))

    def log_density(self, x0: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x0) (or log p(x0 | class)) per sample."""
        loglik = self._component_loglik(self._to_coeffs(x0).reshape(x0.shape[0], -1), 0.0)
        return torch.logsumexp(self._mask(loglik, classes), dim=1) - self._mask_norm(classes, x0.shape[0])

    def denoise_ve(self, y: torch.Tensor, sigma: float, classes: torch.Tensor | None, cond_scale: float) -> torch.Tensor:
        """The exact guided denoiser for VE latents y = x0 + σ·n at one noise level σ ≥ 0."""
        flat = self._to_coeffs(y).reshape(y.shape[0], -1)
        s2 = sigma * sigma
        loglik = self._component_loglik(flat, s2)
        uncond = self._posterior_mean(flat, torch.softmax(loglik, dim=1), s2)
        if classes is None or cond_scale == 0.0:
            out = uncond
        else:
            cond = self._posterior_mean(flat, torch.softmax(self._mask(loglik, classes), dim=1), s2)
            out = uncond + cond_scale * (cond - uncond) if cond_scale != 1.0 else cond
        return self._to_pixels(out.reshape(y.shape))

    def prior_mean(self, n: int, classes: torch.Tensor | None, cond_scale: float) -> torch.Tensor:
        """E[x0] (guided), the denoiser's value where the latent holds no signal (flow at σ = 1)."""
        weights = torch.softmax(self.weights.log().expand(n, -1), dim=1)
        uncond = weights @ self.means
        if classes is not None and cond_scale != 0.0:
            cond = torch.softmax(self._mask(self.weights.log().expand(n, -1), classes), dim=1) @ self.means
            uncond = uncond + cond_scale * (cond - uncond)
        return self._to_pixels(uncond.reshape(n, *self.shape))

    def _component_loglik(self, flat: torch.Tensor, s2: float) -> torch.Tensor:
        """log π_k + log N(y; μ_k, v_k + σ²) for every sample and component, (N, K)."""
        inv = 1.0 / (self.variances + s2)  # (K, d)
        quad = (flat * flat) @ inv.T - 2.0 * flat @ (self.means * inv).T + (self.means**2 * inv).sum(1)
        logdet = torch.log(self.variances + s2).sum(1)
        return self.weights.log() - 0.5 * (quad + logdet + self.dim * math.log(2 * math.pi))

    def _posterior_mean(self, flat: torch.Tensor, resp: torch.Tensor, s2: float) -> torch.Tensor:
        # Σ_k r_k (μ_k + v_k/(v_k+σ²)(y − μ_k)) = r @ (μ_k σ²/(v_k+σ²)) + y ⊙ (r @ (v_k/(v_k+σ²)))
        inv = 1.0 / (self.variances + s2)
        return resp @ (self.means * (s2 * inv)) + flat * (resp @ (self.variances * inv))

    def _mask(self, loglik: torch.Tensor, classes: torch.Tensor | None) -> torch.Tensor:
        if classes is None:
            return loglik
        keep = self.labels[None, :] == classes[:, None].to(self.labels.device)
        return loglik.masked_fill(~keep, -math.inf)

    def _mask_norm(self, classes: torch.Tensor | None, n: int) -> torch.Tensor:
        if classes is None:
            return torch.zeros(n, dtype=self.weights.dtype)
        return torch.logsumexp(self._mask(self.weights.log().expand(n, -1), classes), dim=1)


class AnalyticDenoiser:
    """The mixture's exact denoiser as a k-diffusion model: ``model(x, sigma, classes=None,
    cond_scale=1.0)`` returns D(x; σ) for a per-sample ``sigma`` vector, so ``extra_args`` carries the
    guidance exactly as the hosts' CFG wrappers do.

    ``family`` is ``"ve"`` (x = x0 + σ·n) or ``"flow"`` (x = (1 − σ)·x0 + σ·n, σ ∈ [0, 1]); the
    flow case maps to VE by y = x/(1 − σ), σ̃ = σ/(1 − σ) (docs/noise.md#flow-re-noising). The samplers
    are told the family with their ``model_family`` keyword. ``calls`` counts the model calls.
    """

    def __init__(self, mixture: GaussianMixture, family: str = "ve") -> None:
        if family not in ("ve", "flow"):
            raise ValueError(f"family must be 've' or 'flow', got {family!r}")
        self.mixture = mixture
        self.family = family
        self.calls = 0

    def __call__(
        self,
        x: torch.Tensor,
        sigma: torch.Tensor,
        classes: torch.Tensor | None = None,
        cond_scale: float = 1.0,
        **host_args: object,
    ) -> torch.Tensor:
        """D(x; σ); other keyword arguments (a host's ``seed``, ``model_options``…) are ignored, as
        the hosts' model wrappers accept them."""
        self.calls += 1
        sigma = sigma.reshape(-1)
        out = torch.empty_like(x)
        for level in torch.unique(sigma).tolist():  # batches share σ; group in case they do not
            rows = (sigma == level).nonzero().squeeze(1)
            rows_classes = None if classes is None else classes[rows]
            out[rows] = self._denoise(x[rows], level, rows_classes, cond_scale).to(x.dtype)
        return out

    def _denoise(self, x: torch.Tensor, sigma: float, classes: torch.Tensor | None, cond_scale: float) -> torch.Tensor:
        x = x.to(self.mixture.means.dtype)
        if self.family == "ve":
            return self.mixture.denoise_ve(x, sigma, classes, cond_scale)
        if sigma >= 1.0:
            return self.mixture.prior_mean(x.shape[0], classes, cond_scale)
        return self.mixture.denoise_ve(x / (1.0 - sigma), sigma / (1.0 - sigma), classes, cond_scale)

    def noise_to(self, x0: torch.Tensor, noise: torch.Tensor, sigma: float) -> torch.Tensor:
        """The latent at level σ for this family: x0 + σ·n (VE) or (1 − σ)·x0 + σ·n (flow)."""
        return x0 + sigma * noise if self.family == "ve" else (1.0 - sigma) * x0 + sigma * noise


def _dct_matrix(n: int, dtype: torch.dtype) -> torch.Tensor:
    """Orthonormal DCT-II matrix (n, n)."""
    k = torch.arange(n, dtype=dtype)[:, None]
    i = torch.arange(n, dtype=dtype)[None, :]
    m = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    m[0] /= math.sqrt(2.0)
    return m


def image_mixture(
    shape: tuple[int, int, int] = (1, 16, 16),
    n_classes: int = 10,
    components_per_class: int = 3,
    class_spread: float = 1.0,
    component_spread: float = 0.25,
    spectrum_decay: float = 2.0,
    pixel_std: float = 0.5,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> GaussianMixture:
    """A class-conditional mixture shaped like a small SD latent (docs/testbed.md#the-analytic-gaussian-mixture).

    Components are diagonal in the orthonormal 2-D DCT basis of each channel, with a natural-image
    power spectrum v ∝ (1 + f²)^(−decay/2) scaled 0.5–1.5 per component; class means have variance
    ``class_spread``·spectrum, component offsets ``component_spread``·spectrum; the overall pixel std
    is ``pixel_std``. Samples and the denoiser live in pixel space (correlated pixels, smooth images).
    """
    c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    fy = torch.arange(h, dtype=dtype)[:, None]
    fx = torch.arange(w, dtype=dtype)[None, :]
    spectrum = ((1.0 + fy**2 + fx**2) ** (-spectrum_decay / 2)).expand(c, h, w).reshape(-1)
    k = n_classes * components_per_class
    class_means = torch.randn(n_classes, spectrum.numel(), generator=g, dtype=dtype) * (class_spread * spectrum).sqrt()
    offsets = torch.randn(k, spectrum.numel(), generator=g, dtype=dtype) * (component_spread * spectrum).sqrt()
    labels = torch.arange(n_classes).repeat_interleave(components_per_class)
    means = class_means[labels] + offsets
    scale = 0.5 + torch.rand(k, 1, generator=g, dtype=dtype)
    variances = spectrum[None, :] * scale
    weights = torch.full((k,), 1.0 / k, dtype=dtype)
    # Rescale so that the data's overall pixel std is ``pixel_std`` (the rotation preserves it).
    total_var = (weights[:, None] * (variances + means**2)).sum(0).mean() - ((weights @ means) ** 2).mean()
    factor = pixel_std / float(total_var.sqrt())
    return GaussianMixture(
        weights, means * factor, variances * factor**2, labels, tuple(shape), (_dct_matrix(h, dtype), _dct_matrix(w, dtype))
    )


def ring_mixture(dim: int = 2, modes: int = 8, radius: float = 1.0, std: float = 0.05, dtype: torch.dtype = torch.float64) -> GaussianMixture:
    """``modes`` equal Gaussians on a circle in the first two coordinates (docs/splitting.md#measured).
    For ``dim`` > 2 the circle is repeated over coordinate pairs so every coordinate carries
    variance; each mode is its own class."""
    angles = torch.arange(modes, dtype=dtype) * (2 * math.pi / modes)
    circle = torch.stack([angles.cos(), angles.sin()], dim=1) * radius
    means = circle.repeat(1, (dim + 1) // 2)[:, :dim]
    variances = torch.full((modes, dim), std**2, dtype=dtype)
    weights = torch.full((modes,), 1.0 / modes, dtype=dtype)
    return GaussianMixture(weights, means, variances, torch.arange(modes), (dim,))
