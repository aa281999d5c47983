"""A real ComfyUI for the integration tests, when ``COMFYUI_PATH`` names a checkout
(docs/hosts.md#how-each-host-is-tested): otherwise every test here is skipped, with that reason in pytest's summary.

The checkout's own Python environment must run the tests (torch, torchvision and ComfyUI's
requirements, plus pytest), e.g.::

    COMFYUI_PATH=/path/to/ComfyUI /path/to/comfy-venv/bin/python -m pytest -q tests/integration

In process, ComfyUI runs on the CPU (``args.cpu`` is set before ``comfy.model_management`` is
imported) and loads this pack through its own ``nodes.load_custom_node``. The model is a tiny random
SD1.5-shaped UNet built in process as an EPS, V_PREDICTION or FLOW model (no weights needed).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
COMFYUI_PATH = os.environ.get("COMFYUI_PATH", "")
SKIP_REASON = "COMFYUI_PATH is not set to a ComfyUI checkout: ComfyUI integration tests skipped"

#: A one-level SD1.5 UNet: 32 channels, context 16, ~1 M parameters.
TINY_UNET = {
    "use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True, "legacy": False,
    "adm_in_channels": None, "in_channels": 4, "model_channels": 32, "num_res_blocks": [1],
    "transformer_depth": [1], "channel_mult": [1], "transformer_depth_middle": 1,
    "use_linear_in_transformer": False, "context_dim": 16, "transformer_depth_output": [1, 1],
    "use_temporal_attention": False, "use_temporal_resblock": False,
}
FAMILIES = ("eps", "v", "flow")
#: Test files here that need no host (the model-file tool's pure parts): they run everywhere.
HOSTLESS = {"test_make_models.py", "test_make_models_clip.py"}


def pytest_collection_modifyitems(config, items):
    if COMFYUI_PATH and (Path(COMFYUI_PATH) / "comfy" / "samplers.py").is_file():
        return
    reason = SKIP_REASON if not COMFYUI_PATH else f"COMFYUI_PATH={COMFYUI_PATH} is not a ComfyUI checkout"
    here = Path(__file__).resolve().parent
    for item in items:
        path = Path(str(item.fspath)).resolve()
        if path.parent == here and path.name not in HOSTLESS:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def comfy():
    """The real ComfyUI modules, with this pack loaded by ComfyUI's own custom-node loader."""
    path = str(Path(COMFYUI_PATH).resolve())
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)  # before the cwd: ComfyUI's top-level ``nodes`` module, not ours
    from comfy.cli_args import args

    args.cpu = True
    args.disable_api_nodes = True
    import comfy.k_diffusion.sampling
    import comfy.model_base
    import comfy.model_management
    import comfy.model_patcher
    import comfy.model_sampling
    import comfy.sample
    import comfy.samplers
    import comfy.supported_models
    import comfy_extras.nodes_custom_sampler
    import comfyui_version

    import nodes as comfy_nodes

    assert Path(comfy_nodes.__file__).resolve().parent == Path(path), comfy_nodes.__file__
    names_before = list(comfy.samplers.KSampler.SAMPLERS)
    loaded = asyncio.run(comfy_nodes.load_custom_node(str(ROOT), ignore=set(comfy_nodes.NODE_CLASS_MAPPINGS)))
    assert loaded, "ComfyUI could not load the pack"
    print(f"\nComfyUI {comfyui_version.__version__} at {path}; torch {torch.__version__}")
    return SimpleNamespace(
        samplers=comfy.samplers, k_sampling=comfy.k_diffusion.sampling, sample=comfy.sample,
        model_sampling=comfy.model_sampling, nodes=comfy_nodes, custom=comfy_extras.nodes_custom_sampler,
        version=comfyui_version.__version__, names_before=names_before,
    )


def build_tiny_model(comfy_ns, family: str, seed: int = 0):
    """A ModelPatcher around a random tiny UNet, and positive/negative conditioning."""
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models

    model_type = {"eps": comfy.model_base.ModelType.EPS, "v": comfy.model_base.ModelType.V_PREDICTION,
                  "flow": comfy.model_base.ModelType.FLOW}[family]
    config = comfy.supported_models.SD15(TINY_UNET)
    config.unet_config.update(num_heads=2, num_head_channels=-1)
    base = comfy.model_base.BaseModel(config, model_type=model_type, device=torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # ComfyUI's ops skip initialisation: fill every parameter explicitly
        for p in base.diffusion_model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
        # an O(1) prediction: with ~0.02 outputs every sampler lands within ~1e-4 of every other, and
        # a parity check between two samplers would prove nothing
        for p in base.diffusion_model.out[2].parameters():
            p.mul_(50.0)
    cpu = torch.device("cpu")
    patcher = comfy.model_patcher.ModelPatcher(base, load_device=cpu, offload_device=cpu)
    positive = [[torch.randn(1, 4, 16, generator=generator), {}]]
    negative = [[torch.randn(1, 4, 16, generator=generator), {}]]
    return patcher, positive, negative


@pytest.fixture(scope="session")
def tiny_models(comfy):
    return {family: build_tiny_model(comfy, family) for family in FAMILIES}
