"""The real AUTOMATIC1111 (or Forge) API server with this extension installed (spec/hosts.md §8).

Runs when ``A1111_PATH`` (or ``FORGE_PATH``) names a checkout whose dependencies are installed, and
``A1111_PYTHON`` (``FORGE_PYTHON``) names its Python (default: the checkout's own ``venv``, as
``webui.sh`` makes it); skipped otherwise, with the reason in pytest's summary. Run with any Python
that has pytest, e.g.::

    A1111_PATH=/path/to/stable-diffusion-webui A1111_PYTHON=/path/to/venv/bin/python \\
        python -m pytest -q -rs tests/integration_a1111

The server starts offline on 127.0.0.1 in API-only mode (``--nowebui``), CPU only, with a temporary
``--data-dir`` holding a copy of this extension, so the checkout is never modified. Without a
checkpoint no image can be generated (and SD checkpoints fetch tokenizer files from a model hub), so
these tests cover what the API shows and accepts: our samplers in ``/sdapi/v1/samplers``, our settings
in ``/sdapi/v1/options`` and settable there (the same ``opts.set(..., is_api=True)`` that applies
``override_settings``), our infotext labels parsed by ``/sdapi/v1/png-info``, and a ``txt2img``
request with our sampler and ``override_settings`` getting as far as the missing checkpoint. The
in-process test runs the host's own infotext → settings mapping on our labels.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from momentum_samplers.a1111 import naming  # the package is loaded by tests/conftest.py
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parents[2]

STARTUP_TIMEOUT_S = 300
FORGE_CPU_ARGS = ["--always-cpu"]  # Forge's backend asks CUDA for its memory size unless told otherwise


def _hosts() -> list:
    found = []
    for var in ("A1111_PATH", "FORGE_PATH"):
        path = os.environ.get(var, "")
        if not path:
            continue
        python = os.environ.get(var.replace("_PATH", "_PYTHON"), str(Path(path) / "venv" / "bin" / "python"))
        found.append(pytest.param((var, Path(path), Path(python)), id=var.split("_")[0].lower()))
    if not found:
        reason = "A1111_PATH / FORGE_PATH not set to a webui checkout: A1111 integration tests skipped"
        found.append(pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-host"))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, payload: dict | None = None) -> tuple[int, object]:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def _install_copy(data_dir: Path) -> None:
    """This extension as a user installs it: the folder without VCS data, tests or caches."""
    ignore = shutil.ignore_patterns(".git", ".venv", "tests", "__pycache__", ".*_cache", "out")
    shutil.copytree(ROOT, data_dir / "extensions" / "momentum-samplers", ignore=ignore)


@pytest.fixture(scope="module", params=_hosts())
def server(request, tmp_path_factory):
    var, path, python = request.param
    if not (path / "launch.py").is_file():
        pytest.skip(f"{var}={path} is not a webui checkout (no launch.py)")
    if not python.is_file():
        pytest.skip(f"no Python for {var}: set {var.replace('_PATH', '_PYTHON')} (tried {python})")
    data_dir = tmp_path_factory.mktemp("webui-data")
    _install_copy(data_dir)
    port = _free_port()
    log_path = data_dir / "server.log"
    args = [str(python), "launch.py", "--skip-prepare-environment", "--skip-install", "--skip-torch-cuda-test",
            "--skip-python-version-check", "--skip-version-check", "--use-cpu", "all", "--no-half", "--nowebui",
            "--no-download-sd-model", "--server-name", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    args += FORGE_CPU_ARGS if (path / "modules_forge").is_dir() else []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("COMMANDLINE_ARGS", None)
    with open(log_path, "w") as log:
        process = subprocess.Popen(args, cwd=path, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited ({process.returncode}):\n{log_path.read_text()[-4000:]}")
            try:
                if _request(base + "/sdapi/v1/samplers")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no API after {STARTUP_TIMEOUT_S}s:\n{log_path.read_text()[-4000:]}")
            time.sleep(2)
        log_text = log_path.read_text()
        startup = next((line for line in log_text.splitlines() if line.startswith("Startup time")), "?")
        print(f"\n{var}: {path} ({_version(path)}); {startup}")
        yield {"var": var, "base": base, "path": path, "python": python, "data_dir": data_dir, "log": log_path}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)


def _version(path: Path) -> str:
    """The newest release in the checkout's CHANGELOG.md (what the webui reports without git)."""
    changelog = path / "CHANGELOG.md"
    lines = changelog.read_text(encoding="utf8").splitlines() if changelog.is_file() else []
    version = next((line.lstrip("# ").strip() for line in lines if line.startswith("## ")), "version unknown")
    return f"Forge on webui {version}" if (path / "modules_forge").is_dir() else f"webui {version}"


def test_our_samplers_are_listed(server):
    status, samplers = _request(server["base"] + "/sdapi/v1/samplers")
    assert status == 200
    listed = {item["name"]: item for item in samplers}
    for spec in SAMPLER_SPECS.values():
        item = listed[spec.label]
        assert item["aliases"] == naming.sampler_aliases(spec)
        # A1111's API answers option values as strings, Forge's (pydantic 2) as JSON values
        assert {k: str(v) for k, v in item["options"].items()} == {k: str(v) for k, v in naming.sampler_options(spec).items()}
    assert "Euler" in listed and "DPM++ 2M" in listed
    print(f"{len(SAMPLER_SPECS)} of ours among {len(listed)}: {', '.join(s.label for s in SAMPLER_SPECS.values())}")


def test_our_settings_are_listed_and_settable(server):
    """GET lists them on A1111. Forge builds the GET answer's model when its API module is imported,
    before extensions load, so it leaves out every extension's settings; POST (the same
    ``opts.set(..., is_api=True)`` as ``override_settings``) still takes them, and the saved
    ``config.json`` shows the value. An unknown key fails there with a KeyError."""
    url = server["base"] + "/sdapi/v1/options"
    status, options = _request(url)
    assert status == 200
    keys = [(naming.option_key(s, p), p.default) for s in SAMPLER_SPECS.values() for p in s.params]
    listed = [key for key, _ in keys if key in options]
    assert all(options[key] == default for key, default in keys if key in options)
    if server["var"] == "A1111_PATH":
        assert len(listed) == len(keys)
    key, default = "momentum_ghvb_beta", SAMPLER_SPECS["ghvb"].param("beta").default
    assert _request(url, {key: 0.3})[0] == 200
    assert json.loads((server["data_dir"] / "config.json").read_text())[key] == 0.3
    if key in options:
        assert _request(url)[1][key] == 0.3
    status, answer = _request(url, {"momentum_no_such_setting": 0.3})
    assert status != 200 and "KeyError" in json.dumps(answer)
    assert _request(url, {key: default})[0] == 200
    print(f"{len(keys)} settings, {len(listed)} in GET /sdapi/v1/options; POST {key}=0.3 saved; unknown key: HTTP {status}")


def _png_with_parameters(text: str) -> str:
    """A 1×1 PNG whose "parameters" text chunk holds ``text``, as the webui writes it, base64-encoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    png += chunk(b"iTXt", b"parameters\x00\x00\x00\x00\x00" + text.encode())
    png += chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00")) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def _infotext() -> tuple[str, dict]:
    values = {naming.infotext_label(s, p): p.default for s in SAMPLER_SPECS.values() for p in s.params}
    values["ghvb beta"] = 0.3
    line = ", ".join(f"{label}: {value}" for label, value in values.items())
    return f"a prompt\nNegative prompt: blurry\nSteps: 20, Sampler: GHVB, CFG scale: 7, Seed: 1, Size: 512x512, {line}", values


def test_png_info_parses_our_infotext(server):
    text, values = _infotext()
    status, info = _request(server["base"] + "/sdapi/v1/png-info", {"image": _png_with_parameters(text)})
    assert status == 200, info
    parameters = info["parameters"]
    assert parameters["Sampler"] == "GHVB"
    for label, value in values.items():
        assert parameters[label] == str(value), label
    print(f"png-info read back {len(values)} of our labels, e.g. 'ghvb beta' = {parameters['ghvb beta']}")


def test_txt2img_with_our_sampler_and_override_settings_needs_only_a_checkpoint(server):
    """The request passes the API's sampler validation ("Sampler not found" for an unknown name) and
    fails only where the webui loads the checkpoint, which this offline setup does not have."""
    payload = {"prompt": "x", "steps": 4, "width": 64, "height": 64, "sampler_name": "GHVB",
               "override_settings": {"momentum_ghvb_beta": 0.7, "momentum_ghvb_order": 2}}
    status, answer = _request(server["base"] + "/sdapi/v1/txt2img", payload)
    if status == 200:
        assert "ghvb beta: 0.7" in json.loads(answer["info"])["infotexts"][0]
        print("txt2img generated an image with GHVB")
        return
    assert "Sampler not found" not in json.dumps(answer)
    assert "checkpoint" in json.dumps(answer).lower() or "any model" in json.dumps(answer).lower(), answer
    message = answer.get("errors") or answer.get("message") or ""
    print(f"txt2img with GHVB + override_settings: HTTP {status}, {answer.get('error')}: {message[:60]}")


IN_PROCESS = r"""
import json, sys
from modules import initialize
initialize.imports()
initialize.initialize()
from modules import infotext_utils, sd_samplers, sd_samplers_kdiffusion, shared
text = sys.stdin.read()
params = infotext_utils.parse_generation_parameters(text)
pasted = infotext_utils.get_override_settings(params)
pairs = [f"{k}: {params[k]}" for k, _, _ in pasted]
ours = [d for d in sd_samplers.all_samplers if getattr(d.constructor, "momentum_sampler", None)]
print("RESULT " + json.dumps({
    "pasted": [[label, key, value] for label, key, value in pasted],
    "override_dict": infotext_utils.create_override_settings_dict(pairs),
    "sampler_from_infotext": sd_samplers.get_sampler_from_infotext(params),
    "ours": [d.name for d in ours],
    "labels_in_map": sorted(k for k, v in sd_samplers.samplers_map.items() if v in [d.name for d in ours]),
    "settings": {k: shared.opts.data.get(k) for k, v in shared.opts.data_labels.items() if k.startswith("momentum_")},
}))
"""


def test_the_hosts_own_infotext_mapping_restores_our_settings(server):
    """In the host's own process (its ``initialize``, which loads this extension from the data dir):
    pasting an infotext maps our labels back onto our settings (PNG Info / "Send to txt2img")."""
    text, values = _infotext()
    args = [str(server["python"]), "-c", IN_PROCESS, "--skip-torch-cuda-test", "--use-cpu", "all", "--no-half",
            "--nowebui", "--no-download-sd-model", "--data-dir", str(server["data_dir"])]
    args += FORGE_CPU_ARGS if (server["path"] / "modules_forge").is_dir() else []
    result = subprocess.run(args, cwd=server["path"], input=text, capture_output=True, text=True, timeout=300)
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads(line[len("RESULT "):])
    assert found["ours"] == [s.label for s in SAMPLER_SPECS.values()]
    assert found["sampler_from_infotext"] == "GHVB"
    # only values that differ from the current settings are pasted: here 'ghvb beta'
    assert found["pasted"] == [["ghvb beta", "momentum_ghvb_beta", 0.3]]
    assert found["override_dict"] == {"momentum_ghvb_beta": 0.3}
    defaults = {naming.option_key(s, p): p.default for s in SAMPLER_SPECS.values() for p in s.params}
    assert found["settings"] == defaults
    print(f"in process: pasted {found['pasted']}; sampler from infotext {found['sampler_from_infotext']}")
