"""Images from a real ComfyUI server with a real SD1.5-layout checkpoint (run only with COMFYUI_PATH).

The checkpoint is made offline by ``tools/make_models.py`` (random weights, SD1.5's architecture,
the original single-file layout); ``MS_MODELS`` names a folder that already holds
``sd15.safetensors``, otherwise it is built once into ``out/models``. The server loads it through
CheckpointLoaderSimple, encodes prompts with its CLIP, samples a 64×64 image (8×8 latent) and decodes it
with its VAE.

Random weights barely separate samplers, so parity and "the parameter changes the image" checks run
on the denoising stand-in: a test node wraps the loaded MODEL so that its denoised output is the exact
posterior mean of a prompt-dependent Gaussian mixture over latents (``MixtureLaw`` in
tools/make_models.py) plus ``mix`` times the random UNet's correction. With ``mix`` 0 the prediction is
exact for every parameterization, which also makes eps and v-prediction runs comparable.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from test_comfyui_server import Server

from momentum_samplers.nodes import naming
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parents[2]
SIZE, CFG, SEED = 64, 7.0, 7
POSITIVE, NEGATIVE = "a photo of a lighthouse on a cliff at sunset", "blurry, lowres"

TEST_NODES = '''
"""Test-only node: the denoising stand-in around a loaded MODEL."""
import sys
sys.path.insert(0, TOOLS_DIR)
import make_models


class MSTestStandin:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",), "mix": ("FLOAT", {"default": 0.05, "min": 0.0, "max": 1.0,
                                                                    "step": 0.001})}}
    RETURN_TYPES = ("MODEL",)
    FUNCTION = "patch"
    CATEGORY = "_for_testing"

    def patch(self, model, mix):
        return (make_models.comfyui_patch(model, mix=mix),)


NODE_CLASS_MAPPINGS = {"MSTestStandin": MSTestStandin}
'''.replace("TOOLS_DIR", repr(str(ROOT / "tools")))


def models_dir() -> Path:
    """A folder with ``sd15.safetensors``: ``MS_MODELS`` (the A1111 tests read the same; ``MS_MODELS_DIR``
    is its deprecated old name), or ``out/models``, built on first use."""
    folder = Path(os.environ.get("MS_MODELS") or os.environ.get("MS_MODELS_DIR") or ROOT / "out" / "models")
    if not (folder / "sd15.safetensors").is_file():
        print(f"\nMS_MODELS names no folder with sd15.safetensors: building the model files (about 2 GB) "
              f"into {folder}", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "tools" / "make_models.py"), "--out", str(folder), "--which", "sd15"],
                       check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return folder


def comfy_base(base: Path, models: Path, test_nodes: str = TEST_NODES) -> Path:
    """A ComfyUI base directory: this pack and the test node in custom_nodes, the checkpoint linked
    under its own name and under the one the SD1.5 example workflow asks for."""
    custom = base / "custom_nodes"
    custom.mkdir(parents=True)
    (custom / "momentum-samplers").symlink_to(ROOT, target_is_directory=True)
    (custom / "ms_pipeline_test_nodes.py").write_text(test_nodes)
    checkpoints = base / "models" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for name in ("sd15.safetensors", "v1-5-pruned-emaonly-fp16.safetensors"):
        (checkpoints / name).symlink_to(models / "sd15.safetensors")
    return base


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = comfy_base(tmp_path_factory.mktemp("comfy_pipelines"), models_dir())
    srv = Server(base)
    try:
        stats = srv.wait_up()
        print(f"\nComfyUI server {stats['system']['comfyui_version']} up at {srv.url} (torch "
              f"{stats['system'].get('pytorch_version')})")
        yield srv
    finally:
        srv.stop()
    failed = [line for line in srv.log.read_text().splitlines() if "IMPORT FAILED" in line and "custom_nodes" in line]
    assert not failed, failed


def image(server: Server, outputs: dict, node: str = "save") -> np.ndarray:
    """The PNG a SaveImage node wrote, as an int array (H, W, 3) of 0–255 levels."""
    from PIL import Image

    (entry,) = outputs[node]["images"]
    query = urllib.parse.urlencode({k: entry[k] for k in ("filename", "subfolder", "type")})
    with Image.open(io.BytesIO(server.get_bytes(f"/view?{query}"))) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def pipeline(sampler: str, steps: int = 8, scheduler: str = "karras", options: dict | None = None,
             standin: float | None = None, patch: dict | None = None) -> dict:
    """CheckpointLoaderSimple → [patch] → [stand-in] → [options node] → KSampler → VAEDecode → SaveImage."""
    prompt = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "pos": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": POSITIVE}},
        "neg": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["ckpt", 1], "text": NEGATIVE}},
        "latent": {"class_type": "EmptyLatentImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1}},
    }
    model = ["ckpt", 0]
    if patch is not None:
        prompt["patch"] = {"class_type": patch["class_type"], "inputs": {"model": model, **patch["inputs"]}}
        model = ["patch", 0]
    if standin is not None:
        prompt["standin"] = {"class_type": "MSTestStandin", "inputs": {"model": model, "mix": standin}}
        model = ["standin", 0]
    if options is not None:
        name = sampler.removeprefix(naming.STOCK_PREFIX)
        prompt["options"] = {"class_type": naming.options_node_id(name), "inputs": {"model": model, **options}}
        model = ["options", 0]
    prompt["sample"] = {"class_type": "KSampler", "inputs": {
        "model": model, "seed": SEED, "steps": steps, "cfg": CFG, "sampler_name": sampler, "scheduler": scheduler,
        "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["latent", 0], "denoise": 1.0}}
    prompt["decode"] = {"class_type": "VAEDecode", "inputs": {"samples": ["sample", 0], "vae": ["ckpt", 2]}}
    prompt["save"] = {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": "ms_test"}}
    return prompt


def generate(server: Server, prompt: dict, limit: float = 900.0) -> np.ndarray:
    return image(server, server.run(prompt, limit=limit))


def max_level_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a - b).max())


def describe(a: np.ndarray, b: np.ndarray) -> str:
    d = np.abs(a - b)
    return f"max {int(d.max())}, mean {d.mean():.2f} levels of 255"


@pytest.fixture(scope="module")
def euler_random(server):
    return generate(server, pipeline("euler", steps=4))


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_every_sampler_through_the_full_pipeline(server, euler_random, name):
    """The random checkpoint end to end, every sampler by its KSampler name, 4 karras steps."""
    start = time.monotonic()
    img = generate(server, pipeline(naming.stock_name(name), steps=4))
    assert img.shape == (SIZE, SIZE, 3)
    assert img.std() > 1.0, "a flat image: the pipeline produced no structure"
    assert max_level_diff(img, euler_random) > 0, "the name ran Euler"
    print(f"\n{naming.stock_name(name)}: vs euler {describe(img, euler_random)}; {time.monotonic() - start:.0f}s")


PARITY = [  # (ours, its options, stock sampler, steps): beta = 1 reductions
    ("ms_ghvb", {"order": 1, "beta": 1.0}, "euler", 8),
    ("ms_dpmpp_2m_hb", {"beta": 1.0}, "dpmpp_2m", 8),
    ("ms_plms_hb", {"order": 4, "beta": 1.0}, "ipndm", 8),
    ("ms_plms_nt", {"order": 4, "beta": 1.0}, "ipndm", 8),
    ("ms_ghvb", {"order": 4, "beta": 1.0}, "ipndm", 8),
]


@pytest.fixture(scope="module")
def stock_standin(server):
    cache = {}

    def get(sampler: str, steps: int = 8, patch: dict | None = None) -> np.ndarray:
        key = (sampler, steps, repr(patch))
        if key not in cache:
            cache[key] = generate(server, pipeline(sampler, steps=steps, standin=0.0, patch=patch))
        return cache[key]

    return get


def test_samplers_differ_on_the_standin(stock_standin):
    """Without this the parity checks below would prove nothing."""
    euler, dpm = stock_standin("euler"), stock_standin("dpmpp_2m")
    ipndm = stock_standin("ipndm")
    print(f"\nstand-in, 8 karras steps, cfg {CFG}: euler vs dpmpp_2m {describe(euler, dpm)}; "
          f"euler vs ipndm {describe(euler, ipndm)}")
    assert max_level_diff(euler, dpm) >= 10 and max_level_diff(euler, ipndm) >= 10


@pytest.mark.parametrize(("ours", "options", "stock", "steps"), PARITY,
                         ids=["ghvb1_vs_euler", "dpmpp_2m_hb_vs_dpmpp_2m", "plms_hb4_vs_ipndm", "plms_nt4_vs_ipndm",
                              "ghvb4_vs_ipndm"])
def test_beta_one_reduces_to_the_stock_sampler(server, stock_standin, ours, options, stock, steps):
    ref = stock_standin(stock, steps)
    img = generate(server, pipeline(ours, steps=steps, options=options, standin=0.0))
    print(f"\n{ours} {options} vs {stock}, {steps} karras steps: {describe(img, ref)}")
    assert max_level_diff(img, ref) <= 1  # float32 rounding may move a level


def custom_sampler_prompt(sampler_node: dict, steps: int, scheduler: str = "karras") -> dict:
    """The stand-in (mix 0) pipeline with SamplerCustom: ``sampler_node`` gives the SAMPLER."""
    prompt = pipeline("euler", steps=steps, standin=0.0)
    del prompt["sample"]
    prompt.update({
        "node": sampler_node,
        "sigmas": {"class_type": "BasicScheduler", "inputs": {"model": ["standin", 0], "scheduler": scheduler,
                                                              "steps": steps, "denoise": 1.0}},
        "sample": {"class_type": "SamplerCustom", "inputs": {
            "model": ["standin", 0], "add_noise": True, "noise_seed": SEED, "cfg": CFG, "positive": ["pos", 0],
            "negative": ["neg", 0], "sampler": ["node", 0], "sigmas": ["sigmas", 0], "latent_image": ["latent", 0]}},
    })
    return prompt


def test_unipc_hb_beta_one_reduces_to_uni_pc_bh2_on_the_same_sigmas(server, stock_standin):
    """Through SamplerCustom, so both get the same 3 karras sigmas (the stock sampler runs order 2 there;
    ours ends in x = D where it steps to sigma 0.001). KSampler itself gives uni_pc_bh2 a different
    schedule (computed for steps + 1, the penultimate sigma dropped), so there the two differ."""
    ours = generate(server, custom_sampler_prompt(
        {"class_type": naming.sampler_node_id("unipc_hb"), "inputs": {"beta": 1.0}}, 3))
    stock = generate(server, custom_sampler_prompt(
        {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "uni_pc_bh2"}}, 3))
    in_ksampler = stock_standin("uni_pc_bh2", 3)
    print(f"\nSamplerCustom unipc_hb(beta 1) vs uni_pc_bh2, 3 karras sigmas: {describe(ours, stock)}; "
          f"(uni_pc_bh2 in KSampler, its own schedule, vs SamplerCustom: {describe(in_ksampler, stock)})")
    assert max_level_diff(ours, stock) <= 1


def test_options_node_changes_the_image(server):
    """On the stand-in with the random UNet mixed in: the options node at its defaults changes nothing,
    another beta changes the image."""
    defaults = {p.name: p.default for p in SAMPLER_SPECS["ghvb"].params}
    plain = generate(server, pipeline("ms_ghvb", steps=6, standin=0.05))
    same = generate(server, pipeline("ms_ghvb", steps=6, standin=0.05, options=defaults))
    other = generate(server, pipeline("ms_ghvb", steps=6, standin=0.05, options={**defaults, "beta": 0.2}))
    print(f"\nms_ghvb, options node at defaults {defaults} vs none: {describe(same, plain)}; "
          f"beta 0.2 vs default: {describe(other, plain)}")
    assert max_level_diff(same, plain) == 0
    assert max_level_diff(other, plain) >= 5


def test_samplercustom_with_our_sampler_node(server):
    """SamplerCustom with MomentumSampler_dpmpp_2m_hb = KSampler(ms_dpmpp_2m_hb) with the same beta."""
    prompt = pipeline("ms_dpmpp_2m_hb", steps=6, standin=0.0, options={"beta": 0.6})
    prompt.update({
        "node": {"class_type": naming.sampler_node_id("dpmpp_2m_hb"), "inputs": {"beta": 0.6}},
        "sigmas": {"class_type": "BasicScheduler", "inputs": {"model": ["standin", 0], "scheduler": "karras",
                                                              "steps": 6, "denoise": 1.0}},
        "custom": {"class_type": "SamplerCustom", "inputs": {
            "model": ["standin", 0], "add_noise": True, "noise_seed": SEED, "cfg": CFG, "positive": ["pos", 0],
            "negative": ["neg", 0], "sampler": ["node", 0], "sigmas": ["sigmas", 0], "latent_image": ["latent", 0]}},
        "decode2": {"class_type": "VAEDecode", "inputs": {"samples": ["custom", 0], "vae": ["ckpt", 2]}},
        "save2": {"class_type": "SaveImage", "inputs": {"images": ["decode2", 0], "filename_prefix": "ms_custom"}},
    })
    outputs = server.run(prompt, limit=900)
    ksampler, custom = image(server, outputs, "save"), image(server, outputs, "save2")
    print(f"\nSamplerCustom(MomentumSampler_dpmpp_2m_hb beta 0.6) vs KSampler(ms_dpmpp_2m_hb beta 0.6): "
          f"{describe(custom, ksampler)}")
    assert max_level_diff(custom, ksampler) <= 1


V_PATCH = {"class_type": "ModelSamplingDiscrete", "inputs": {"sampling": "v_prediction", "zsnr": False}}
FLOW_PATCH = {"class_type": "ModelSamplingSD3", "inputs": {"shift": 3.0}}


def test_v_prediction_patch(server, stock_standin):
    """An exact denoiser gives the same image whether the model speaks eps or v: the v path of our
    sampler (through ModelSamplingDiscrete v_prediction) matches its eps path."""
    eps = generate(server, pipeline("ms_ghvb", steps=8, standin=0.0))
    v = generate(server, pipeline("ms_ghvb", steps=8, standin=0.0, patch=V_PATCH))
    print(f"\nms_ghvb, v_prediction vs eps on the exact stand-in: {describe(v, eps)}; "
          f"(eps vs euler {describe(eps, stock_standin('euler'))})")
    assert max_level_diff(v, eps) <= 1
    mixed = generate(server, pipeline("ms_ghvb", steps=4, standin=0.05, patch=V_PATCH))
    assert mixed.std() > 1.0


def test_flow_patch(server, stock_standin):
    """ModelSamplingSD3 (discrete flow, shift 3): our samplers run in the flow family, GHVB order 1
    beta 1 is still Euler there, and the defaults differ from it."""
    euler = stock_standin("euler", 8, FLOW_PATCH)
    ghvb1 = generate(server, pipeline("ms_ghvb", steps=8, standin=0.0, patch=FLOW_PATCH, options={"order": 1, "beta": 1.0}))
    ghvb = generate(server, pipeline("ms_ghvb", steps=8, standin=0.0, patch=FLOW_PATCH))
    print(f"\nflow (ModelSamplingSD3 shift 3): ms_ghvb(order 1, beta 1) vs euler {describe(ghvb1, euler)}; "
          f"ms_ghvb defaults vs euler {describe(ghvb, euler)}")
    assert max_level_diff(ghvb1, euler) <= 1
    assert max_level_diff(ghvb, euler) >= 5
    mixed = generate(server, pipeline("ms_dpmpp_2m_hb", steps=4, standin=0.05, patch=FLOW_PATCH))
    assert mixed.std() > 1.0


def _custom(prompt: dict, key: str, sampler_node: dict) -> None:
    """SamplerCustom with ``sampler_node`` on the shared low sigmas, decoded and saved as ``save_<key>``."""
    prompt[f"sampler_{key}"] = sampler_node
    prompt[f"custom_{key}"] = {"class_type": "SamplerCustom", "inputs": {
        "model": ["standin", 0], "add_noise": True, "noise_seed": SEED, "cfg": CFG, "positive": ["pos", 0],
        "negative": ["neg", 0], "sampler": [f"sampler_{key}", 0], "sigmas": ["split", 1],
        "latent_image": ["latent", 0]}}
    prompt[f"decode_{key}"] = {"class_type": "VAEDecode", "inputs": {"samples": [f"custom_{key}", 0], "vae": ["ckpt", 2]}}
    prompt[f"save_{key}"] = {"class_type": "SaveImage", "inputs": {"images": [f"decode_{key}", 0],
                                                                   "filename_prefix": f"ms_flow_{key}"}}


def test_flow_patch_uses_the_flow_half_log_snr(server):
    """A sampler whose update depends on the model family: DPM++ 2M HB at β = 1 on the flow-patched model
    is the exponential integrator in the flow's λ = log((1 − σ)/σ) (docs/dpm_solver.md#flow-models),
    which ComfyUI's dpmpp_2m_sde with eta 0 also is, not ComfyUI's dpmpp_2m (λ = −log σ). From σ below 1
    (SplitSigmas), where the flow λ is finite."""
    prompt = pipeline("euler", steps=6, standin=0.0, patch=FLOW_PATCH)
    for key in ("sample", "decode", "save"):  # only the SamplerCustom branches below are compared
        prompt.pop(key, None)
    prompt["sigmas"] = {"class_type": "BasicScheduler", "inputs": {"model": ["standin", 0], "scheduler": "simple",
                                                                  "steps": 7, "denoise": 1.0}}
    prompt["split"] = {"class_type": "SplitSigmas", "inputs": {"sigmas": ["sigmas", 0], "step": 1}}
    _custom(prompt, "ours", {"class_type": naming.sampler_node_id("dpmpp_2m_hb"), "inputs": {"beta": 1.0}})
    _custom(prompt, "flow", {"class_type": "SamplerDPMPP_2M_SDE", "inputs": {
        "solver_type": "midpoint", "eta": 0.0, "s_noise": 0.0, "noise_device": "cpu"}})
    _custom(prompt, "ve", {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "dpmpp_2m"}})
    outputs = server.run(prompt, limit=900)
    ours, flow, ve = (image(server, outputs, f"save_{k}") for k in ("ours", "flow", "ve"))
    print(f"\nflow patch, from σ < 1: dpmpp_2m_hb(β 1) vs dpmpp_2m_sde(eta 0) {describe(ours, flow)}; "
          f"vs dpmpp_2m (VE λ) {describe(ours, ve)}; dpmpp_2m_sde(eta 0) vs dpmpp_2m {describe(flow, ve)}")
    assert max_level_diff(flow, ve) >= 3, "the two λ must differ visibly here, or the parity proves nothing"
    assert max_level_diff(ours, flow) <= 1
