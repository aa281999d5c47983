"""Fixtures of the A1111-family contract tests: the fake host of tests/fakes/a1111/ for one test, in
the A1111 1.10 or the Forge flavour, plus a toy model and a toy stochastic sampler.

Whatever ``modules`` / ``gradio`` were in ``sys.modules`` before are put back afterwards and the fakes
removed, so no other test sees them.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from momentum_samplers.sampling.params import Param, SamplerSpec

ROOT = Path(__file__).resolve().parent.parent.parent
FAKES = ROOT / "tests" / "fakes" / "a1111"
SCRIPT = ROOT / "scripts" / "momentum_samplers_a1111.py"
HOST_PACKAGES = ("modules", "gradio")


def _is_host_module(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in HOST_PACKAGES)


@contextlib.contextmanager
def fake_host(flavor: str):
    saved = {name: mod for name, mod in sys.modules.items() if _is_host_module(name)}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(FAKES))
    try:
        shared = importlib.import_module("modules.shared")
        shared.FLAVOR = flavor
        shared.sd_model = ToyModel()
        names = ("sd_samplers", "sd_samplers_common", "sd_samplers_kdiffusion", "sd_schedulers", "infotext_utils",
                 "processing", "scripts", "script_callbacks", "options")
        host = SimpleNamespace(flavor=flavor, shared=shared, **{n: importlib.import_module(f"modules.{n}") for n in names})
        host.load_script = lambda: host.scripts.load_scripts([(SCRIPT, ROOT)])[0]
        yield host
    finally:
        sys.path.remove(str(FAKES))
        for name in [n for n in sys.modules if _is_host_module(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.fixture
def a1111():
    """The fake AUTOMATIC1111 1.10 (no ``add_sampler``), our script not yet loaded."""
    with fake_host("a1111") as host:
        yield host


@pytest.fixture
def forge():
    """The fake Forge: A1111's surface plus ``sd_samplers.add_sampler`` and predictor-based models."""
    with fake_host("forge") as host:
        yield host


@pytest.fixture(params=["a1111", "forge"])
def host(request):
    with fake_host(request.param) as h:
        yield h


class ToyModel:
    """``shared.sd_model`` with an exact denoiser for data ~ N(0, 1): VE form x = x0 + σ·ε, or flow form
    x = (1 − σ)·x0 + σ·ε (A1111's SD3 has ``add_noise_to_latent``; Forge's flow models a predictor
    with ``prediction_type == "const"``)."""

    is_sdxl = False
    model = SimpleNamespace(conditioning_key="crossattn")

    def __init__(self, family: str = "ve", forge_prediction: str | None = None):
        self.family = family
        prediction = forge_prediction or ("const" if family == "flow" else "eps")
        self.forge_objects = SimpleNamespace(unet=SimpleNamespace(model=SimpleNamespace(
            predictor=SimpleNamespace(prediction_type=prediction))))

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        s = sigma.reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)
        if self.family == "flow":
            return (1 - s) * x / ((1 - s) ** 2 + s**2)
        return x / (1 + s**2)


class ToySD3(ToyModel):
    """A1111 1.10's SD3 model: flow-matching, detected by ``add_noise_to_latent``."""

    def __init__(self):
        super().__init__("flow")

    def add_noise_to_latent(self, x, noise, amount):
        return x * (1 - amount) + noise * amount


TOY_SDE_PARAMS = (
    Param("churn", "float", 0.5, "churn", "How much fresh noise each step adds.", min=0.0, max=1.0, step=0.05),
    Param("renoise", "bool", True, "renoise", "Add noise at all."),
    Param("mode", "choice", "plain", "mode", "Update form.", choices=("plain", "damped")),
)


@torch.no_grad()
def sample_toy_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, churn=0.5, renoise=True,
                   mode="plain", noise_sampler=None, model_family=None):
    """A stand-in for a stochastic sampler of ``sampling/`` (two model calls per step): Heun-like
    predictor plus ``churn`` of fresh noise from ``noise_sampler`` (VE form only)."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
        eps = (x - denoised) / sigmas[i]
        if renoise and sigmas[i + 1] > 0:
            eps = (1 - churn) ** 0.5 * eps + churn**0.5 * noise_sampler(sigmas[i], sigmas[i + 1])
        x = denoised + sigmas[i + 1] * eps * (0.5 if mode == "damped" else 1.0)
    return x


TOY_SDE = SamplerSpec(name="toy_sde", label="Toy SDE", fn=sample_toy_sde, params=TOY_SDE_PARAMS,
                      description="test only", family="test", nfe_per_step=2, stochastic=True)


@pytest.fixture
def toy_sde(monkeypatch):
    """A stochastic, second-order sampler with bool and choice parameters added to the registry for
    one test, as a future sampler of ``sampling/`` would be."""
    from momentum_samplers.sampling import SAMPLER_SPECS

    monkeypatch.setitem(SAMPLER_SPECS, TOY_SDE.name, TOY_SDE)
    return TOY_SDE


@pytest.fixture
def toys():
    """The toy model classes (tests cannot import this conftest by name: pytest loads several)."""
    return SimpleNamespace(ToyModel=ToyModel, ToySD3=ToySD3)
