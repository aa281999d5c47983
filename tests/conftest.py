"""Test setup: the project as the package ``momentum_samplers``, and the real k-diffusion."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
runpy.run_path(str(ROOT / "_package.py"))["load_package"]()


@pytest.fixture(autouse=True)
def _one_thread_and_float64_default():
    """Small tensors run fastest on one thread on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def kdiff():
    """The real k-diffusion ``sampling`` module (the published k-diffusion 0.1.1.post1)."""
    from momentum_samplers.testbed.kdiffusion import load_k_diffusion_sampling

    return load_k_diffusion_sampling()
