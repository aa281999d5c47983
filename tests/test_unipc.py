"""UniPC with heavy-ball momentum (docs/unipc.md; UniPC = arXiv 2302.04867).

- β = 1 is UniPC-bh2 of order 2 (UniP-2 + UniC): checked against an independent, step-by-step
  implementation of the paper's formulas below (a linear solve for the corrector's weights, the
  explicit x_i kept and re-stepped), not against the module's own helpers. ComfyUI's own
  ``uni_pc_bh2`` is compared in tests/integration/test_comfyui_unipc.py.
- β < 1: the same reference with one velocity EMA for the predictor and another for the corrector;
  the authors' variant, where the predictor's velocity is overwritten, is a different sampler.
- Measured convergence order (equal steps in σ, as tests/test_convergence.py): 3 at β = 1, 1 below.
"""

from __future__ import annotations

import math

import pytest
import torch

from momentum_samplers.sampling import sample_unipc_hb
from momentum_samplers.testbed.gmm import AnalyticDenoiser, image_mixture

TOL = 1e-10


def unipc_bh2_reference(model, x, sigmas, extra_args, beta=1.0, overwrite_predictor_velocity=False):
    """UniPC-bh2 of order 2 on VE latents (α = 1, λ = −log σ), written out from the paper.

    Step i → i+1 with h = λ_{i+1} − λ_i, p = min(2, number of model values), r_1 = (λ_{i−1} − λ_i)/h,
    D1 = (D_{i−1} − D_i)/r_1, B(h) = e^{−h} − 1 in the data-prediction sign convention (hh = −h):
      base  = (σ_{i+1}/σ_i)·x_i − (e^{−h} − 1)·D_i
      UniP: x̃ = base − B·ρ_p·D1 with ρ_p = 1/2 (p = 2), nothing (p = 1)
      UniC: x_{i+1} = base − B·(ρ_c[0]·D1 + ρ_c[−1]·(D(x̃) − D_i)), R·ρ_c = b with
            R = [r_k^(j−1)], b_j = hφ_{j+1}·j!/B, hφ_1 = e^{hh} − 1, hφ_{j+1} = hφ_j/hh − 1/j!
            (ρ_c = 1/2 for p = 1), and D(x̃) becomes D_{i+1}.
    With β < 1 the bracketed data combinations D_i + ρ·D1 (+ …) go through separate EMAs.
    The step to σ = 0 returns D; the last step of a partial schedule has no corrector.
    """
    sig = [float(s) for s in sigmas]
    s_in = x.new_ones([x.shape[0]])
    lam = [math.inf if s == 0 else -math.log(s) for s in sig]
    x_i = x
    values, times = [], []  # D_j and λ_j of the distinct points so far (newest last)
    v_p = v_c = None

    def ema(v, combination):
        return combination if v is None else (1 - beta) * v + beta * combination

    for i in range(len(sig) - 1):
        if not values:
            values, times = [model(x_i, sig[i] * s_in, **extra_args)], [lam[i]]
        if sig[i + 1] == sig[i]:
            continue
        if sig[i + 1] == 0:
            return values[-1]
        p = min(2, len(values))
        h = lam[i + 1] - lam[i]
        hh = -h
        B = math.expm1(hh)
        D0 = values[-1]
        rks = [(times[-2] - times[-1]) / h] if p == 2 else []
        D1s = [(values[-2] - D0) / r for r in rks]
        # predictor: data combination D0 + ρ_p·D1 (B = e^{hh} − 1 = hφ_1 for bh2)
        pred = D0 + 0.5 * D1s[0] if p == 2 else D0
        v_p = ema(v_p, pred)
        x_pred = (sig[i + 1] / sig[i]) * x_i - B * v_p
        if overwrite_predictor_velocity:  # the authors' code: the EMA result is discarded
            v_p = pred
        if i + 1 == len(sig) - 1:
            return x_pred
        D_new = model(x_pred, sig[i + 1] * s_in, **extra_args)
        if p == 1:
            rho_c = torch.tensor([0.5], dtype=torch.float64)
        else:
            h_phi, fact, R, b = B / hh - 1, 1, [], []
            for j in range(1, p + 1):
                R.append([r ** (j - 1) for r in rks + [1.0]])
                b.append(h_phi * fact / B)
                fact *= j + 1
                h_phi = h_phi / hh - 1 / fact
            rho_c = torch.linalg.solve(torch.tensor(R, dtype=torch.float64), torch.tensor(b, dtype=torch.float64))
        corr = D0 + float(rho_c[-1]) * (D_new - D0)
        for rho, d1 in zip(rho_c[:-1].tolist(), D1s, strict=True):
            corr = corr + rho * d1
        v_c = ema(v_c, corr)
        x_i = (sig[i + 1] / sig[i]) * x_i - B * v_c
        values, times = (values + [D_new])[-2:], (times + [lam[i + 1]])[-2:]
    return x_i


@pytest.fixture(scope="module")
def guided():
    model = AnalyticDenoiser(image_mixture(shape=(1, 8, 8)))
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 14.6
    extra = {"classes": torch.arange(6) % 10, "cond_scale": 7.5}
    return model, x, extra


def karras(kdiff, n):
    return kdiff.get_sigmas_karras(n, 0.03, 14.6, rho=7.0).double()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 10, 25])
@pytest.mark.parametrize("end", ["zero", "sigma_min"])
def test_beta_1_is_unipc_bh2(kdiff, guided, n, end):
    """Full schedules end in the final denoise; partial ones (to σ_min) end on a predictor step,
    which carries every corrector before it."""
    model, x, extra = guided
    sigmas = karras(kdiff, n)
    if end == "sigma_min":
        sigmas = sigmas[:-1]
    ours = sample_unipc_hb(model, x, sigmas, extra_args=extra, disable=True, beta=1.0)
    ref = unipc_bh2_reference(model, x, sigmas, extra)
    assert (ours - ref).abs().max() <= TOL


@pytest.mark.parametrize("beta", [0.8, 0.5])
def test_momentum_has_one_velocity_for_the_predictor_and_one_for_the_corrector(kdiff, guided, beta):
    model, x, extra = guided
    sigmas = karras(kdiff, 10)[:-1]
    ours = sample_unipc_hb(model, x, sigmas, extra_args=extra, disable=True, beta=beta)
    ref = unipc_bh2_reference(model, x, sigmas, extra, beta=beta)
    assert (ours - ref).abs().max() <= TOL
    overwritten = unipc_bh2_reference(model, x, sigmas, extra, beta=beta, overwrite_predictor_velocity=True)
    assert (ours - overwritten).abs().max() > 1e-3
    plain = sample_unipc_hb(model, x, sigmas, extra_args=extra, disable=True, beta=1.0)
    assert (ours - plain).abs().max() > 1e-3


def test_one_model_call_per_step_and_repeats_cost_nothing(kdiff, guided):
    model, x, extra = guided
    calls = []

    def counted(x, sigma, **kwargs):
        calls.append(float(sigma[0]))
        return model(x, sigma, **kwargs)

    sigmas = karras(kdiff, 8)
    sample_unipc_hb(counted, x, sigmas, extra_args=extra, disable=True)
    assert calls == sigmas[:-1].tolist()


# The measured convergence orders are in tests/test_convergence.py, beside the other samplers'.


def test_flow_first_step_from_sigma_1_is_ddim():
    model = AnalyticDenoiser(image_mixture(shape=(1, 8, 8)), family="flow")
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    d = model(x, torch.ones(4, dtype=torch.float64))
    out = sample_unipc_hb(model, x, torch.tensor([1.0, 0.7], dtype=torch.float64), disable=True, model_family="flow")
    assert (out - (0.3 * d + 0.7 * x)).abs().max() <= 1e-12
    full = sample_unipc_hb(model, x, torch.linspace(1.0, 0.0, 11, dtype=torch.float64), disable=True, model_family="flow")
    assert torch.isfinite(full).all()
