"""Every model family the hosts run: eps- and v-prediction models reach the samplers through the
hosts' denoiser wrappers as VE-form D(x; σ) (here the real k-diffusion ``CompVisDenoiser`` /
``CompVisVDenoiser`` around a fake SD-1.x LatentDiffusion); flow-matching models as flow latents."""

from __future__ import annotations

import pytest
import torch

from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.testbed.gmm import AnalyticDenoiser, image_mixture
from momentum_samplers.testbed.reference import reference_solution, rms_error

DETERMINISTIC = [name for name, spec in SAMPLER_SPECS.items() if not spec.stochastic]


class FakeLatentDiffusion:
    """SD-1.x's discrete schedule; ``apply_model`` answers ε or v from the exact denoiser."""

    def __init__(self, denoiser: AnalyticDenoiser, prediction: str) -> None:
        betas = torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2
        self.alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        self.log_sigmas = (((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5).log()
        self.denoiser, self.prediction = denoiser, prediction

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:  # k-diffusion's, in float64
        low, high, w = t.floor().long(), t.ceil().long(), t.double().frac()
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()

    def apply_model(self, x_in, t, cond, **kwargs):
        sigma = self.t_to_sigma(t)
        s = sigma.reshape(-1, 1, 1, 1)
        x = x_in * (s**2 + 1) ** 0.5
        d = self.denoiser(x, sigma, classes=cond, cond_scale=1.0)
        if self.prediction == "eps":
            return (x - d) / s
        c_skip, c_out = 1 / (s**2 + 1), -s / (s**2 + 1) ** 0.5
        return (d - c_skip * x) / c_out


@pytest.fixture(scope="module")
def families(kdiff):
    import importlib

    external = importlib.import_module("k_diffusion.external")
    analytic = AnalyticDenoiser(image_mixture(shape=(1, 8, 8)))
    eps = external.CompVisDenoiser(FakeLatentDiffusion(analytic, "eps"))
    v = external.CompVisVDenoiser(FakeLatentDiffusion(analytic, "v"))
    return analytic, eps, v


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_eps_and_v_prediction_models_sample_like_their_denoiser(families, name):
    analytic, eps, v = families
    sigmas = eps.get_sigmas(10).double()  # SD's schedule, 14.61 → 0.029 → 0
    x = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * sigmas[0]
    classes = torch.arange(4)
    fn = SAMPLER_SPECS[name].fn
    direct = fn(lambda x, s, cond: analytic(x, s, classes=cond), x, sigmas, extra_args={"cond": classes}, disable=True)
    for wrapped in (eps, v):
        out = fn(wrapped, x, sigmas, extra_args={"cond": classes}, disable=True)
        assert (out - direct).abs().max() <= 1e-4  # the wrappers' float32 t ↔ σ mapping


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_flow_matching_latents_converge_to_the_flow_ode_solution(name):
    """On a flow model (x = (1 − σ)·x0 + σ·n, schedule from σ = 1) each sampler's error against the
    flow ODE's own solution shrinks with steps (``model_family="flow"``, as the host adapters pass it)."""
    model = AnalyticDenoiser(image_mixture(shape=(1, 8, 8)), family="flow")
    x = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    extra = {"classes": torch.arange(8), "cond_scale": 3.0}
    reference = reference_solution(model, x, 1.0, 0.05, steps=1000, extra_args=extra)
    fn = SAMPLER_SPECS[name].fn
    errors = []
    for n in (10, 40):
        sigmas = torch.linspace(1.0, 0.05, n + 1, dtype=torch.float64)
        errors.append(rms_error(fn(model, x, sigmas, extra_args=extra, disable=True, model_family="flow"), reference))
    assert errors[1] < 0.5 * errors[0]
    assert errors[1] < 0.02
