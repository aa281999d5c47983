"""The ``fake_comfy`` fixture: tests/fakes/ as ``comfy`` / ``comfy_api`` for one test.

Whatever host modules were in ``sys.modules`` before (none in CI; the real ComfyUI when the
integration tests run in the same session) are put back afterwards, and the fakes removed, so no
other test sees them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

FAKES = Path(__file__).resolve().parent.parent / "fakes"
HOST_PACKAGES = ("comfy", "comfy_api")


def _is_host_module(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in HOST_PACKAGES)


@pytest.fixture
def fake_comfy():
    saved = {name: mod for name, mod in sys.modules.items() if _is_host_module(name)}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(FAKES))
    try:
        yield SimpleNamespace(
            samplers=importlib.import_module("comfy.samplers"),
            k_sampling=importlib.import_module("comfy.k_diffusion.sampling"),
            model_sampling=importlib.import_module("comfy.model_sampling"),
            io=importlib.import_module("comfy_api.latest.io"),
            api=importlib.import_module("comfy_api.latest"),
        )
    finally:
        sys.path.remove(str(FAKES))
        for name in [n for n in sys.modules if _is_host_module(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def wrapped_model(model_sampling, denoiser):
    """A callable ``model(x, sigma, **extra_args)`` with ComfyUI's attribute chain."""

    class Wrapped:
        def __init__(self):
            self.inner_model = SimpleNamespace(inner_model=SimpleNamespace(model_sampling=model_sampling))
            self.calls = []

        def __call__(self, x, sigma, **extra_args):
            self.calls.append(extra_args)
            return denoiser(x, sigma)

    return Wrapped()


@pytest.fixture
def make_wrapped_model():
    return wrapped_model


class FakePatcher:
    """The part of ComfyUI's ModelPatcher the options node uses: ``clone()`` and ``model_options``."""

    def __init__(self, model_options=None):
        self.model_options = {"transformer_options": {}} if model_options is None else model_options

    def clone(self):
        return FakePatcher(dict(self.model_options))


@pytest.fixture
def fake_patcher():
    return FakePatcher()
