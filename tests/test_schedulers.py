"""Every ComfyUI scheduler of testbed/schedules.py: shape and range host-free, and (when ``COMFYUI_PATH``
names a ComfyUI checkout and its Python runs the tests) equality with ``comfy.samplers.calculate_sigmas``
for the SD1.5-like model and flow models at shifts 1, 3 and 6."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from momentum_samplers.testbed import schedules as sch

COMFYUI_PATH = os.environ.get("COMFYUI_PATH", "")
MODELS = {"ve": sch.DiscreteVE(), "flow1": sch.DiscreteFlow(1.0), "flow3": sch.DiscreteFlow(3.0),
          "flow6": sch.DiscreteFlow(6.0)}


@pytest.mark.parametrize("name", sch.SCHEDULERS)
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("steps", [2, 5, 8, 14, 30])
def test_schedule_shape(name, model, steps):
    ms = MODELS[model]
    sigmas = sch.calculate_sigmas(ms, name, steps)
    assert float(sigmas[-1]) == 0.0
    assert torch.isfinite(sigmas).all()
    assert (sigmas[:-1] >= sigmas[1:]).all()
    assert float(sigmas[0]) <= float(ms.sigma_max) * (1 + 1e-6)
    # "beta" drops repeated table entries, "ddim_uniform" takes every (1000 // steps)-th: both may differ
    if name not in ("beta", "ddim_uniform"):
        assert len(sigmas) == steps + 1
    else:
        assert steps - 1 <= len(sigmas) - 1 <= steps + 1


def test_unknown_scheduler_is_refused():
    with pytest.raises(ValueError, match="unknown scheduler 'cosine'"):
        sch.calculate_sigmas(MODELS["ve"], "cosine", 10)


@pytest.fixture(scope="module")
def comfy():
    if not (COMFYUI_PATH and (Path(COMFYUI_PATH) / "comfy" / "samplers.py").is_file()):
        pytest.skip("COMFYUI_PATH is not set to a ComfyUI checkout: comparison with ComfyUI's schedulers skipped")
    sys.path.insert(0, str(Path(COMFYUI_PATH).resolve()))
    from comfy.cli_args import args

    args.cpu = True
    import comfy.model_sampling
    import comfy.samplers

    return comfy


def test_every_scheduler_equal_to_comfyui(comfy):
    ms_mod = comfy.model_sampling
    theirs = {"ve": type("MS", (ms_mod.ModelSamplingDiscrete, ms_mod.EPS), {})()}
    for shift in (1, 3, 6):
        flow = type("MS", (ms_mod.ModelSamplingDiscreteFlow, ms_mod.CONST), {})()
        flow.set_parameters(shift=float(shift), multiplier=1000)
        theirs[f"flow{shift}"] = flow
    assert set(comfy.samplers.SCHEDULER_NAMES) == set(sch.SCHEDULERS)
    for model, ms in theirs.items():
        for name in sch.SCHEDULERS:
            for steps in range(2, 41):
                torch.testing.assert_close(sch.calculate_sigmas(MODELS[model], name, steps),
                                           comfy.samplers.calculate_sigmas(ms, name, steps), rtol=1e-6, atol=0,
                                           msg=f"{name} at {steps} steps, {model}")
