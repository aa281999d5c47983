"""What the real host's API shows and accepts of this extension, with or without a checkpoint: our
samplers in ``/sdapi/v1/samplers`` (with the schedule "Automatic" resolves to), our settings in
``/sdapi/v1/options`` and settable there, a value out of range refused and never saved, our infotext
labels parsed by ``/sdapi/v1/png-info``, and the host's own infotext → settings mapping.

Run with any Python that has pytest, e.g.::

    A1111_PATH=<webui checkout> A1111_PYTHON=<its python> MS_MODELS=<model folder> \\
        .venv/bin/python -m pytest -q -rs -s tests/integration_a1111
"""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import zlib

from a1111_hosts import cpu_args, request

from momentum_samplers.a1111 import naming  # the package is loaded by tests/conftest.py
from momentum_samplers.sampling import SAMPLER_SPECS


def saved_config(server) -> dict:
    path = server["data_dir"] / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def test_our_samplers_are_listed(server):
    status, samplers = request(server["base"] + "/sdapi/v1/samplers")
    assert status == 200
    listed = {item["name"]: item for item in samplers}
    for spec in SAMPLER_SPECS.values():
        item = listed[spec.label]
        assert item["aliases"] == naming.sampler_aliases(spec)
        # A1111's API answers option values as strings, Forge's (pydantic 2) as JSON values
        assert {k: str(v) for k, v in item["options"].items()} == {k: str(v) for k, v in naming.sampler_options(spec).items()}
    # the host's own DPM++ 2M names the schedule ours use under "Automatic"
    assert str(listed["DPM++ 2M"]["options"]["scheduler"]) == naming.TUNED_SCHEDULE
    print(f"{len(SAMPLER_SPECS)} of ours among {len(listed)}: {', '.join(s.label for s in SAMPLER_SPECS.values())}")


def test_our_settings_are_listed_and_settable(server):
    """GET lists them on A1111. Forge and reForge build the GET answer's model when their API module is
    imported, before extensions load, so they leave out every extension's settings; POST (the same
    ``opts.set(..., is_api=True)`` as ``override_settings``) still takes them, and the saved
    ``config.json`` shows the value. An unknown key fails there with a KeyError."""
    url = server["base"] + "/sdapi/v1/options"
    status, options = request(url)
    assert status == 200
    keys = [(naming.option_key(s, p), p.default) for s in SAMPLER_SPECS.values() for p in s.params]
    listed = [key for key, _ in keys if key in options]
    assert all(options[key] == default or str(options[key]) == str(default) for key, default in keys if key in options)
    if server["host"] == "a1111":
        assert len(listed) == len(keys)
    key, default = "momentum_ghvb_beta", SAMPLER_SPECS["ghvb"].param("beta").default
    assert request(url, {key: 0.3})[0] == 200
    assert saved_config(server)[key] == 0.3
    if key in options:
        assert request(url)[1][key] == 0.3
    status, answer = request(url, {"momentum_no_such_setting": 0.3})
    assert status != 200 and "KeyError" in json.dumps(answer)
    assert request(url, {key: default})[0] == 200
    print(f"{len(keys)} settings, {len(listed)} in GET /sdapi/v1/options; POST {key}=0.3 saved; unknown key: HTTP {status}")


def test_a_value_out_of_range_is_never_stored(server):
    """``POST /sdapi/v1/options {"momentum_ghvb_beta": 5}``: the host's ``Options.set`` runs our check,
    prints it and puts the old value back, so neither the running settings nor config.json hold 5.
    (The host answers 200 whatever ``set`` reports.)"""
    url = server["base"] + "/sdapi/v1/options"
    key = "momentum_ghvb_beta"
    param = SAMPLER_SPECS["ghvb"].param("beta")
    assert request(url, {key: 0.4})[0] == 200
    status, _ = request(url, {key: 5})
    assert saved_config(server)[key] == 0.4
    _, options = request(url)
    if key in options:
        assert options[key] == 0.4
    log = server["log"].read_text()
    assert f"changing setting {key} to 5" in log
    assert f"'GHVB: beta' ({key}) = 5 is out of range: expected {param.range_text()}" in log
    assert request(url, {key: param.default})[0] == 200
    print(f"POST {key}=5: HTTP {status}, kept 0.4; the server printed the setting and its range {param.range_text()}")


def png_with_parameters(text: str) -> str:
    """A 1×1 PNG whose "parameters" text chunk holds ``text``, as the webui writes it, base64-encoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    png += chunk(b"iTXt", b"parameters\x00\x00\x00\x00\x00" + text.encode())
    png += chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00")) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def all_labels_infotext() -> tuple[str, dict]:
    values = {naming.infotext_label(s, p): p.default for s in SAMPLER_SPECS.values() for p in s.params}
    values["ghvb beta"] = 0.3
    line = ", ".join(f"{label}: {value}" for label, value in values.items())
    return f"a prompt\nNegative prompt: blurry\nSteps: 20, Sampler: GHVB, CFG scale: 7, Seed: 1, Size: 512x512, {line}", values


def test_png_info_parses_every_label(server):
    text, values = all_labels_infotext()
    status, info = request(server["base"] + "/sdapi/v1/png-info", {"image": png_with_parameters(text)})
    assert status == 200, info
    parameters = info["parameters"]
    assert parameters["Sampler"] == "GHVB"
    for label, value in values.items():
        assert parameters[label] == str(value), label
    print(f"png-info read back {len(values)} of our labels, e.g. 'ghvb beta' = {parameters['ghvb beta']}")


IN_PROCESS = r"""
import json, os, sys
try:  # Forge's and reForge's webui.py do this first
    from modules_forge.initialization import initialize_forge
except ImportError:
    initialize_forge = None
if initialize_forge is not None:
    initialize_forge()
from modules import initialize
initialize.imports()
initialize.initialize()
from modules import infotext_utils, sd_samplers, shared
text = sys.stdin.read()
params = infotext_utils.parse_generation_parameters(text)
pasted = infotext_utils.get_override_settings(params)
pairs = [f"{k}: {params[k]}" for k, _, _ in pasted]
ours = [d for d in sd_samplers.all_samplers if getattr(d.constructor, "momentum_sampler", None)]
# into a file: the host's background threads print to stdout too, without newlines
with open(os.environ["MS_RESULT_PATH"], "w") as f:
    json.dump({
    "pasted": [[label, key, value] for label, key, value in pasted],
    "override_dict": infotext_utils.create_override_settings_dict(pairs),
    "sampler_and_scheduler": sd_samplers.get_sampler_and_scheduler(params["Sampler"], "Karras"),
    "ours": [d.name for d in ours],
    "settings": {k: shared.opts.data.get(k) for k, v in shared.opts.data_labels.items() if k.startswith("momentum_")},
    }, f)
"""


def test_the_hosts_own_infotext_mapping_restores_our_settings(server):
    """In the host's own process (its ``initialize``, which loads this extension from the data dir):
    pasting an infotext maps our labels back onto our settings (PNG Info / "Send to txt2img"), and
    "Schedule type: Karras" with our sampler pastes as "Automatic"."""
    text, values = all_labels_infotext()
    args = [str(server["python"]), "-c", IN_PROCESS, "--skip-torch-cuda-test", "--no-half", "--nowebui",
            "--no-download-sd-model", "--data-dir", str(server["data_dir"])]
    args += cpu_args(server["host"])
    result_path = server["data_dir"] / "infotext_mapping.json"
    result_path.unlink(missing_ok=True)
    # the server's environment: its PYTHONPATH holds the model folder the stand-in script imports from
    env = {**server["env"], "MS_RESULT_PATH": str(result_path)}
    result = subprocess.run(args, cwd=server["path"], input=text, capture_output=True, text=True, timeout=300, env=env)
    assert result_path.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    found = json.loads(result_path.read_text())
    assert found["ours"] == [s.label for s in SAMPLER_SPECS.values()]
    assert found["sampler_and_scheduler"] == ["GHVB", "Automatic"]
    # only values that differ from the current settings are pasted: here 'ghvb beta'
    assert found["pasted"] == [["ghvb beta", "momentum_ghvb_beta", 0.3]]
    assert found["override_dict"] == {"momentum_ghvb_beta": 0.3}
    defaults = {naming.option_key(s, p): p.default for s in SAMPLER_SPECS.values() for p in s.params}
    assert {k: v for k, v in found["settings"].items() if k in defaults} == defaults
    print(f"in process: pasted {found['pasted']}; sampler/schedule from infotext {found['sampler_and_scheduler']}")
