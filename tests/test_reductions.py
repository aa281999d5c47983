"""β = 1 reductions to known samplers (docs/multistep.md#reductions, docs/dpm_solver.md#reductions), against
the real k-diffusion."""

from __future__ import annotations

import pytest
import torch

from momentum_samplers.sampling import (
    fractional_order,
    sample_dpmpp_2m_hb,
    sample_ghvb,
    sample_plms_hb,
    sample_plms_nt,
)
from momentum_samplers.sampling.multistep import AB_COEFFS, ghvb_coeffs
from momentum_samplers.testbed.gmm import AnalyticDenoiser, image_mixture

TOL = 1e-11  # float64 round-off, amplified by 1/σ_min ≈ 33 through ε = (x − D)/σ


@pytest.fixture(scope="module")
def guided():
    """The analytic class-conditional model at guidance 7.5, a start latent and SD's Karras schedule."""
    model = AnalyticDenoiser(image_mixture(shape=(1, 8, 8)))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 1, 8, 8, generator=g, dtype=torch.float64) * 14.6
    extra = {"classes": torch.arange(6) % 10, "cond_scale": 7.5}
    return model, x, extra


def karras(kdiff, n):
    return kdiff.get_sigmas_karras(n, 0.03, 14.6, rho=7.0).double()


@pytest.mark.parametrize("n", [1, 5, 10])
def test_ghvb_order1_beta1_is_k_diffusion_euler(kdiff, guided, n):
    model, x, extra = guided
    sigmas = karras(kdiff, n)
    ours = sample_ghvb(model, x, sigmas, extra_args=extra, disable=True, order=1, beta=1.0)
    theirs = kdiff.sample_euler(model, x, sigmas, extra_args=extra, disable=True)
    assert (ours - theirs).abs().max() <= TOL


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_dpmpp_2m_hb_beta1_is_k_diffusion_dpmpp_2m(kdiff, guided, n):
    model, x, extra = guided
    sigmas = karras(kdiff, n)
    ours = sample_dpmpp_2m_hb(model, x, sigmas, extra_args=extra, disable=True, beta=1.0)
    theirs = kdiff.sample_dpmpp_2m(model, x, sigmas, extra_args=extra, disable=True)
    assert (ours - theirs).abs().max() <= TOL


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_plms_hb_and_nt_beta1_equal_ghvb_beta1(kdiff, guided, order):
    model, x, extra = guided
    sigmas = karras(kdiff, 10)
    ghvb = sample_ghvb(model, x, sigmas, extra_args=extra, disable=True, order=order, beta=1.0)
    hb = sample_plms_hb(model, x, sigmas, extra_args=extra, disable=True, order=order, beta=1.0)
    nt = sample_plms_nt(model, x, sigmas, extra_args=extra, disable=True, order=order, beta=1.0)
    assert (hb - ghvb).abs().max() <= TOL
    assert (nt - ghvb).abs().max() <= TOL


def test_momentum_changes_the_result(kdiff, guided):
    """The reductions above are not vacuous: β < 1 gives a different sampler."""
    model, x, extra = guided
    sigmas = karras(kdiff, 10)
    plain = sample_plms_hb(model, x, sigmas, extra_args=extra, disable=True, beta=1.0)
    for fn in (sample_plms_hb, sample_plms_nt, sample_ghvb):
        assert (fn(model, x, sigmas, extra_args=extra, disable=True, beta=0.5) - plain).abs().max() > 1e-3
    base = sample_dpmpp_2m_hb(model, x, sigmas, extra_args=extra, disable=True, beta=1.0)
    assert (sample_dpmpp_2m_hb(model, x, sigmas, extra_args=extra, disable=True, beta=0.5) - base).abs().max() > 1e-3


def test_ghvb_weights_reduce_to_adams_bashforth_and_stay_consistent():
    for k in range(1, 5):
        assert ghvb_coeffs(k, 1.0) == pytest.approx(AB_COEFFS[k], abs=1e-15)
        for beta in (0.1, 0.5, 0.9):
            assert sum(ghvb_coeffs(k, beta)) == pytest.approx(1.0, abs=1e-12)


def test_fractional_order_naming():
    assert fractional_order(2.5) == {"order": 3, "beta": 0.5}
    assert fractional_order(3.9) == {"order": 4, "beta": pytest.approx(0.9)}
    assert fractional_order(4) == {"order": 4, "beta": 1.0}
    assert fractional_order(0.5) == {"order": 1, "beta": 0.5}
    for bad in (0, 4.5, float("nan"), -1):
        with pytest.raises(ValueError, match="fractional order"):
            fractional_order(bad)


def test_flow_first_step_is_ddim_and_euler(kdiff):
    """On flow latents every sampler's first step from σ = 1 is x' = α'·D + σ'·ε̂ (DDIM), which is also
    Euler in σ; DPM++2M-HB's flow half-log-SNR λ = −inf at σ = 1 must not produce NaN."""
    model = AnalyticDenoiser(image_mixture(shape=(1, 8, 8)), family="flow")
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    sigmas = torch.tensor([1.0, 0.7], dtype=torch.float64)
    d = model(x, torch.ones(4, dtype=torch.float64))
    ddim = 0.3 * d + 0.7 * x  # α' = 0.3, ε̂ = (x − 0·D)/1 = x
    euler = kdiff.sample_euler(model, x, sigmas, disable=True)
    assert (euler - ddim).abs().max() <= TOL
    for fn in (sample_ghvb, sample_plms_hb, sample_plms_nt, sample_dpmpp_2m_hb):
        assert (fn(model, x, sigmas, disable=True, model_family="flow") - ddim).abs().max() <= TOL
    full = torch.linspace(1.0, 0.0, 11, dtype=torch.float64)
    assert torch.isfinite(sample_dpmpp_2m_hb(model, x, full, disable=True, beta=0.8, model_family="flow")).all()
