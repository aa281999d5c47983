"""Starting and talking to the real AUTOMATIC1111, Forge and reForge servers with this extension
installed, for the tests in this folder (``conftest.py`` holds the fixture).

A host runs when its variable names a checkout whose dependencies are installed: ``A1111_PATH``,
``FORGE_PATH``, ``REFORGE_PATH``, each with ``<NAME>_PYTHON`` naming its Python (default: the
checkout's own ``venv``, as ``webui.sh`` makes it). Image generation also needs the model files that
``tools/make_models.py`` writes: ``MS_MODELS`` names that folder (``sd15-small``, ``standin`` and
``hf-cache`` for A1111; ``sd15`` and ``standin`` for Forge and reForge). Whatever is missing is skipped, with the
reason in pytest's summary (``-rs``).

Each server starts offline (``HF_HUB_OFFLINE=1``, the CLIP tokenizer from the model folder's
Hugging Face cache) on 127.0.0.1, CPU only, with the web UI built (the API's ``infotext`` field reads
the paste fields the UI registers) and a temporary ``--data-dir`` holding a copy of this extension, so
the checkout is never modified. One host runs at a time: the server fixture is session-scoped and
parametrized by host, so pytest runs every test against one host, stops it, then starts the next.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOSTS = {"a1111": "A1111_PATH", "forge": "FORGE_PATH", "reforge": "REFORGE_PATH"}
STARTUP_TIMEOUT_S = 600
REQUEST_TIMEOUT_S = 600

# The checkpoint each host generates with, from the model folder: A1111 builds the denoising stand-in
# from its yaml; Forge and reForge detect the model from its weights (SD1.5's real widths only) and
# read no yaml, so they get the full-size file and the stand-in through a test-only script.
CHECKPOINT = {"a1111": "standin", "forge": "sd15", "reforge": "sd15"}
READS_YAML = {"a1111"}


def host_params() -> list:
    found = []
    for name, var in HOSTS.items():
        path = os.environ.get(var, "")
        if path:
            python = os.environ.get(var.replace("_PATH", "_PYTHON"), str(Path(path) / "venv" / "bin" / "python"))
            found.append(pytest.param((name, var, Path(path), Path(python)), id=name))
    if not found:
        reason = "A1111_PATH / FORGE_PATH / REFORGE_PATH not set to a webui checkout: host integration tests skipped"
        found.append(pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-host"))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, payload: dict | None = None) -> tuple[int, object]:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        body = error.read()
        try:
            return error.code, json.loads(body or b"null")
        except json.JSONDecodeError:
            return error.code, body.decode(errors="replace")


def install_copy(data_dir: Path) -> None:
    """This extension as a user installs it: the folder without VCS data, tests or caches."""
    ignore = shutil.ignore_patterns(".git", ".venv", "tests", "__pycache__", ".*_cache", "out")
    shutil.copytree(ROOT, data_dir / "extensions" / "momentum-samplers", ignore=ignore)


def install_forge_standin(models: Path, data_dir: Path) -> bool:
    """Forge and reForge get the denoising stand-in through a test-only script (forge_standin/), which
    imports ``ms_standin`` from the model folder; False when the folder has no stand-in."""
    if not (models / "ms_standin.py").is_file():
        return False
    shutil.copytree(Path(__file__).parent / "forge_standin", data_dir / "extensions" / "ms-forge-standin")
    return True


def model_folder() -> Path | None:
    path = os.environ.get("MS_MODELS") or os.environ.get("MS_MODELS_DIR", "")  # the old ComfyUI-side name
    return Path(path) if path else None


def link_models(models: Path, data_dir: Path, host: str) -> str | None:
    """Links to the host's checkpoint (and its yaml) in the data dir's checkpoint folder; the title
    to select it by, or None when the model folder lacks it."""
    name = CHECKPOINT[host]
    files = [models / f"{name}.safetensors"] + ([models / f"{name}.yaml"] if host in READS_YAML else [])
    if not all(f.exists() for f in files):
        return None
    target = data_dir / "models" / "Stable-diffusion"
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        (target / f.name).symlink_to(f.resolve())
    if host in READS_YAML and (models / "sd15-small.safetensors").exists():
        for suffix in (".safetensors", ".yaml"):
            (target / f"sd15-small{suffix}").symlink_to((models / f"sd15-small{suffix}").resolve())
    return name


def version(path: Path, host: str) -> str:
    """The newest release in the checkout's CHANGELOG.md (what the webui reports without git)."""
    changelog = path / "CHANGELOG.md"
    lines = changelog.read_text(encoding="utf8").splitlines() if changelog.is_file() else []
    release = next((line.lstrip("# ").strip() for line in lines if line.startswith("## ")), "version unknown")
    return f"{host} (webui {release})"


def launch_args(python: Path, host: str, port: int, data_dir: Path, checkpoint: str | None) -> list[str]:
    args = [str(python), "launch.py", "--skip-prepare-environment", "--skip-install", "--skip-torch-cuda-test",
            "--skip-python-version-check", "--skip-version-check", "--no-half", "--api",
            "--no-download-sd-model", "--server-name", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
            "--do-not-download-clip", "--disable-safe-unpickle"]
    if checkpoint is not None:
        args += ["--ckpt", str(data_dir / "models" / "Stable-diffusion" / f"{checkpoint}.safetensors")]
    return args + cpu_args(host)


def cpu_args(host: str) -> list[str]:
    """CPU only. Forge's and reForge's backends ask CUDA for its memory size unless told
    ``--always-cpu``; A1111 and reForge take ``--use-cpu all`` for their own modules."""
    return {"a1111": ["--use-cpu", "all"], "forge": ["--always-cpu"], "reforge": ["--use-cpu", "all", "--always-cpu"]}[host]


def request_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status == 200
    except urllib.error.HTTPError:
        return False


def decode_image(b64: str):
    """A PNG of the API as an (H, W, 3) int16 array, and its text chunks."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(b64.split(",", 1)[-1])))
    return np.asarray(image.convert("RGB"), dtype=np.int16), dict(image.info)
