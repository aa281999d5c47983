"""tools/make_models.py with ComfyUI's classes (run only with COMFYUI_PATH): the same seed gives the
same bytes, and the small variant has the full checkpoint's key layout (only widths differ)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from test_comfyui_pipelines import models_dir

ROOT = Path(__file__).resolve().parents[2]


def build(out: Path, which: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / "make_models.py"), "--out", str(out), "--which", which],
                   check=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)


def test_small_checkpoint_is_reproducible_and_has_the_sd15_layout(tmp_path):
    from safetensors import safe_open

    build(tmp_path / "a", "sd15-small,standin")
    build(tmp_path / "b", "sd15-small")
    digests = [hashlib.sha256((tmp_path / d / "sd15-small.safetensors").read_bytes()).hexdigest() for d in "ab"]
    assert digests[0] == digests[1]
    with safe_open(str(tmp_path / "a" / "sd15-small.safetensors"), "pt") as small, \
            safe_open(str(models_dir() / "sd15.safetensors"), "pt") as full:
        keys = sorted(full.keys())
        assert sorted(small.keys()) == keys
        prefixes = {k.split(".")[0] + "." + k.split(".")[1] for k in full.keys()}
        assert prefixes == {"model.diffusion_model", "first_stage_model.encoder", "first_stage_model.decoder",
                            "first_stage_model.quant_conv", "first_stage_model.post_quant_conv",
                            "cond_stage_model.transformer"}
        assert all(k.startswith("cond_stage_model.transformer.text_model.") for k in full.keys() if "cond_stage" in k)
        assert small.get_slice("model.diffusion_model.input_blocks.0.0.weight").get_shape() == [32, 4, 3, 3]
        assert full.get_slice("model.diffusion_model.input_blocks.0.0.weight").get_shape() == [320, 4, 3, 3]
        out_conv = full.get_tensor("model.diffusion_model.out.2.weight")
        assert (out_conv == 0).float().mean() < 0.01  # zero-initialised in the original: a constant prediction
    assert (tmp_path / "a" / "standin.safetensors").resolve() == (tmp_path / "a" / "sd15-small.safetensors").resolve()
    print(f"\nsd15-small sha256 {digests[0][:16]}… twice; {len(keys)} keys, as the full SD1.5 file")
