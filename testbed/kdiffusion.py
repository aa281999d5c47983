"""Import the real k-diffusion's ``k_diffusion.sampling`` without its heavy package ``__init__``.

The published package (``k-diffusion==0.1.1.post1``, byte-identical in ``sampling.py`` to A1111's pinned
copy) imports torchvision, clip and wandb from its ``__init__``; the samplers need none of them
(docs/testbed.md#the-k-diffusion-oracle). Install it with ``pip install --no-deps k-diffusion==0.1.1.post1`` plus
``scipy torchsde torchdiffeq tqdm``; this module then loads ``k_diffusion.sampling`` through a bare
parent package, stubbing ``torchvision.transforms.functional`` only if torchvision cannot be imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path


def load_k_diffusion_sampling() -> types.ModuleType:
    """Return the real ``k_diffusion.sampling`` module; ImportError if k-diffusion is not installed."""
    if "k_diffusion.sampling" in sys.modules:
        return sys.modules["k_diffusion.sampling"]
    spec = importlib.util.find_spec("k_diffusion")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("k-diffusion is not installed: pip install --no-deps k-diffusion==0.1.1.post1")
    if "k_diffusion" not in sys.modules:
        package = types.ModuleType("k_diffusion")
        package.__path__ = list(spec.submodule_search_locations)
        package.__file__ = str(Path(package.__path__[0]) / "__init__.py")
        sys.modules["k_diffusion"] = package
    _ensure_torchvision_functional()
    return importlib.import_module("k_diffusion.sampling")


def _ensure_torchvision_functional() -> None:
    """``k_diffusion.utils`` imports ``torchvision.transforms.functional`` for image helpers that the
    samplers never call; a stub stands in where torchvision is absent or broken (CPU torch wheel)."""
    try:
        importlib.import_module("torchvision.transforms.functional")
        return
    except Exception:  # ImportError, or RuntimeError from a CUDA-only torchvision build
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    names = ("torchvision", "torchvision.transforms", "torchvision.transforms.functional")
    modules = [types.ModuleType(n) for n in names]
    for parent, child, attr in ((modules[0], modules[1], "transforms"), (modules[1], modules[2], "functional")):
        setattr(parent, attr, child)
    for module in modules:
        module.__dict__.setdefault("__path__", [])
        sys.modules[module.__name__] = module
