"""The host-free model samplings and schedules of testbed/schedules.py: the SD1.5 σ range, the shape
of ComfyUI's "normal" and "simple" schedules, Karras equal to k-diffusion's, and (when ``COMFYUI_PATH``
names a ComfyUI checkout and its Python runs the tests) equality with ComfyUI's own."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import pytest
import torch

from momentum_samplers.testbed import schedules as sch

COMFYUI_PATH = os.environ.get("COMFYUI_PATH", "")


def test_sd15_sigma_range():
    ms = sch.DiscreteVE()
    assert float(ms.sigma_min) == pytest.approx(0.0292, abs=1e-4)
    assert float(ms.sigma_max) == pytest.approx(14.6146, abs=1e-3)
    # σ(t(σ_k)) returns the table entry
    t = ms.timestep(ms.sigmas[[0, 100, 999]])
    assert t.tolist() == [0, 100, 999]
    torch.testing.assert_close(ms.sigma(t.float()), ms.sigmas[[0, 100, 999]])


@pytest.mark.parametrize("steps", [1, 5, 8, 30])
def test_normal_schedule_shape(steps):
    ms = sch.DiscreteVE()
    sigmas = sch.normal_schedule(ms, steps)
    assert len(sigmas) == steps + 1 and float(sigmas[-1]) == 0.0
    assert float(sigmas[0]) == pytest.approx(float(ms.sigma_max), rel=1e-6)
    if steps > 1:
        assert float(sigmas[-2]) == pytest.approx(float(ms.sigma_min), rel=1e-6)
    assert (sigmas[:-1] > sigmas[1:]).all()


@pytest.mark.parametrize("family", ["ve", "flow"])
@pytest.mark.parametrize("steps", [3, 8, 30])
def test_simple_schedule_takes_table_entries(family, steps):
    ms = sch.DiscreteVE() if family == "ve" else sch.DiscreteFlow(3.0)
    sigmas = sch.simple_schedule(ms, steps)
    assert len(sigmas) == steps + 1 and float(sigmas[-1]) == 0.0
    assert float(sigmas[0]) == float(ms.sigma_max)
    assert all(bool((ms.sigmas == s).any()) for s in sigmas[:-1])
    assert (sigmas[:-1] > sigmas[1:]).all()


def test_flow_shift():
    ms = sch.DiscreteFlow(3.0)
    assert float(ms.sigma_max) == 1.0
    # shift 3 moves the midpoint t = 0.5 to σ = 0.75
    assert float(ms.sigma(torch.tensor(500.0))) == pytest.approx(0.75)


def test_noise_scaling_follows_ksampler():
    noise = torch.ones(2)
    ve = sch.DiscreteVE()
    top = float(ve.sigma_max)
    assert float(sch.noise_scaling(ve, top, noise)[0]) == pytest.approx(math.sqrt(1 + top**2))
    assert float(sch.noise_scaling(ve, 14.6, noise)[0]) == pytest.approx(14.6)
    assert float(sch.noise_scaling(sch.DiscreteFlow(3.0), 1.0, noise)[0]) == 1.0


@pytest.mark.parametrize("steps", [2, 7, 25])
def test_karras_equals_k_diffusion(kdiff, steps):
    assert torch.equal(sch.karras_schedule(steps, 0.03, 14.6), kdiff.get_sigmas_karras(steps, 0.03, 14.6))


@pytest.fixture(scope="module")
def comfy():
    if not (COMFYUI_PATH and (Path(COMFYUI_PATH) / "comfy" / "samplers.py").is_file()):
        pytest.skip("COMFYUI_PATH is not set to a ComfyUI checkout: comparison with ComfyUI's schedules skipped")
    path = str(Path(COMFYUI_PATH).resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    from comfy.cli_args import args

    args.cpu = True
    import comfy.model_sampling
    import comfy.samplers

    return comfy


def test_equal_to_comfyui(comfy):
    ms_mod = comfy.model_sampling
    ve = type("MS", (ms_mod.ModelSamplingDiscrete, ms_mod.EPS), {})()
    flow = type("MS", (ms_mod.ModelSamplingDiscreteFlow, ms_mod.CONST), {})()
    flow.set_parameters(shift=3.0, multiplier=1000)
    ours = {"ve": sch.DiscreteVE(), "flow": sch.DiscreteFlow(3.0)}
    for family, theirs in (("ve", ve), ("flow", flow)):
        assert torch.equal(theirs.sigmas, ours[family].sigmas)
        for steps in range(1, 41):
            for name, fn in (("normal", sch.normal_schedule), ("simple", sch.simple_schedule)):
                torch.testing.assert_close(fn(ours[family], steps), comfy.samplers.calculate_sigmas(theirs, name, steps),
                                           rtol=1e-6, atol=0)
    noise = torch.randn(3, 4)
    for sigma in (float(ve.sigma_max), 14.6, 3.0):
        sampler = comfy.samplers.Sampler()
        wrap = type("W", (), {"inner_model": type("M", (), {"model_sampling": ve})()})()
        theirs = ve.noise_scaling(torch.tensor(sigma), noise.clone(), torch.zeros_like(noise),
                                  sampler.max_denoise(wrap, torch.tensor([sigma])))
        torch.testing.assert_close(sch.noise_scaling(ours["ve"], sigma, noise), theirs)
