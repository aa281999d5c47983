"""The pack in a real ComfyUI server (docs/hosts.md#how-each-host-is-tested; run only with COMFYUI_PATH).

Starts ``main.py --cpu`` on 127.0.0.1 with a temporary base directory whose ``custom_nodes`` holds
this pack (a link to the repository) and a test-only node file that builds a tiny random model for
a model family and reports a latent's statistics. Checks ``/object_info`` (our names in KSampler,
KSamplerAdvanced and KSamplerSelect; our nodes, categories and tooltips), queues KSampler and
SamplerCustom workflows for EPS, V-prediction and flow, checks that a wrong sampler name is refused,
and validates the committed API-format workflow fixture against the real schema.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from momentum_samplers.nodes import naming
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "comfyui" / "fixtures"
OURS = [naming.stock_name(name) for name in SAMPLER_SPECS]

TEST_NODES = '''
"""Test-only nodes: a tiny random SD1.5-shaped model per family, and a latent report."""
import torch
import comfy.model_base, comfy.model_patcher, comfy.supported_models

UNET = {"use_checkpoint": False, "image_size": 32, "out_channels": 4, "use_spatial_transformer": True,
        "legacy": False, "adm_in_channels": None, "in_channels": 4, "model_channels": 32, "num_res_blocks": [1],
        "transformer_depth": [1], "channel_mult": [1], "transformer_depth_middle": 1,
        "use_linear_in_transformer": False, "context_dim": 16, "transformer_depth_output": [1, 1],
        "use_temporal_attention": False, "use_temporal_resblock": False}
TYPES = {"eps": "EPS", "v": "V_PREDICTION", "flow": "FLOW"}


class MSTestTinyModel:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"family": (list(TYPES),)}}
    RETURN_TYPES = ("MODEL", "CONDITIONING", "CONDITIONING")
    FUNCTION = "load"
    CATEGORY = "_for_testing"

    def load(self, family):
        config = comfy.supported_models.SD15(UNET)
        config.unet_config.update(num_heads=2, num_head_channels=-1)
        model_type = getattr(comfy.model_base.ModelType, TYPES[family])
        base = comfy.model_base.BaseModel(config, model_type=model_type, device=torch.device("cpu"))
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in base.diffusion_model.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
        cpu = torch.device("cpu")
        patcher = comfy.model_patcher.ModelPatcher(base, load_device=cpu, offload_device=cpu)
        return (patcher, [[torch.randn(1, 4, 16, generator=g), {}]], [[torch.randn(1, 4, 16, generator=g), {}]])


class MSTestLatentReport:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"samples": ("LATENT",)}}
    RETURN_TYPES = ()
    FUNCTION = "report"
    OUTPUT_NODE = True
    CATEGORY = "_for_testing"

    def report(self, samples):
        x = samples["samples"]
        return {"ui": {"ms_report": [{"finite": bool(torch.isfinite(x).all()), "std": float(x.std()),
                                      "shape": list(x.shape)}]}}


NODE_CLASS_MAPPINGS = {"MSTestTinyModel": MSTestTinyModel, "MSTestLatentReport": MSTestLatentReport}
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, base: Path, env: dict | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = base / "server.log"
        cmd = [sys.executable, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
               "--disable-auto-launch", "--disable-api-nodes", "--base-directory", str(base)]
        # one thread: on a shared machine torch's thread pool is many times slower than a single thread
        env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
        self.proc = subprocess.Popen(cmd, cwd=os.environ["COMFYUI_PATH"], stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT, env=env)

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def get_bytes(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.read()

    def post(self, path: str, data: dict):
        req = urllib.request.Request(self.url + path, json.dumps(data).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def wait_up(self, limit: float = 180.0) -> dict:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            try:
                return self.get("/system_stats")
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.5)
        raise RuntimeError("ComfyUI did not start:\n" + self.log.read_text()[-4000:])

    def run(self, prompt: dict, limit: float = 120.0) -> dict:
        status, body = self.post("/prompt", {"prompt": prompt})
        assert status == 200, body
        prompt_id = body["prompt_id"]
        end = time.monotonic() + limit
        while time.monotonic() < end:
            history = self.get(f"/history/{prompt_id}")
            if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                entry = history[prompt_id]
                assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:4000]
                return entry["outputs"]
            time.sleep(0.2)
        raise TimeoutError(f"prompt {prompt_id} did not finish")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfy_base")
    custom = base / "custom_nodes"
    custom.mkdir()
    (custom / "momentum-samplers").symlink_to(ROOT, target_is_directory=True)
    (custom / "ms_integration_test_nodes.py").write_text(TEST_NODES)
    srv = Server(base)
    try:
        stats = srv.wait_up()
        print(f"\nComfyUI server {stats['system']['comfyui_version']} up at {srv.url}")
        yield srv
    finally:
        srv.stop()
    log = srv.log.read_text()
    assert "momentum-samplers" in log and "IMPORT FAILED" not in log.split("momentum-samplers")[0][-200:]


def test_object_info_lists_our_names_and_nodes(server):
    info = server.get("/object_info")
    for node_id in ("KSampler", "KSamplerAdvanced"):
        combo = info[node_id]["input"]["required"]["sampler_name"][0]
        assert combo[-len(OURS):] == OURS, node_id
    select = info["KSamplerSelect"]["input"]["required"]["sampler_name"]
    options = select[1]["options"] if select[0] == "COMBO" else select[0]
    assert options[-len(OURS):] == OURS
    for name, spec in SAMPLER_SPECS.items():
        for node_id in (naming.sampler_node_id(name), naming.options_node_id(name)):
            node = info[node_id]
            assert node["category"].startswith("sampling/custom_sampling/") and node["description"]
            required = node["input"]["required"]
            assert node["input_order"]["required"][-len(spec.params):] == [p.name for p in spec.params]
            for p in spec.params:
                assert required[p.name][1]["tooltip"].startswith(p.tooltip), (node_id, p.name)
                assert required[p.name][1]["default"] == p.default
    print(f"\n/object_info: {len(info)} nodes; KSampler sampler_name ends with {OURS}")


def family_workflow(family: str) -> dict:
    """Tiny model → options node → KSampler(ms_ghvb), and our SAMPLER node → SamplerCustom."""
    return {
        "1": {"class_type": "MSTestTinyModel", "inputs": {"family": family}},
        "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "3": {"class_type": naming.options_node_id("ghvb"), "inputs": {"model": ["1", 0], "order": 2, "beta": 0.7}},
        "4": {"class_type": "KSampler", "inputs": {
            "model": ["3", 0], "seed": 1, "steps": 6, "cfg": 5.0, "sampler_name": naming.stock_name("ghvb"),
            "scheduler": "karras", "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["2", 0],
            "denoise": 1.0}},
        "5": {"class_type": "MSTestLatentReport", "inputs": {"samples": ["4", 0]}},
        "6": {"class_type": naming.sampler_node_id("dpmpp_2m_hb"), "inputs": {"beta": 0.8}},
        "7": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "karras", "steps": 6,
                                                          "denoise": 1.0}},
        "8": {"class_type": "SamplerCustom", "inputs": {
            "model": ["1", 0], "add_noise": True, "noise_seed": 1, "cfg": 5.0, "positive": ["1", 1],
            "negative": ["1", 2], "sampler": ["6", 0], "sigmas": ["7", 0], "latent_image": ["2", 0]}},
        "9": {"class_type": "MSTestLatentReport", "inputs": {"samples": ["8", 0]}},
    }


@pytest.mark.parametrize("family", ["eps", "v", "flow"])
def test_ksampler_and_samplercustom_workflows_run(server, family):
    start = time.monotonic()
    outputs = server.run(family_workflow(family))
    for node_id in ("5", "9"):
        (stats,) = outputs[node_id]["ms_report"]
        assert stats["finite"] and stats["shape"] == [1, 4, 8, 8] and stats["std"] > 0, stats
    print(f"\n[{family}] KSampler(ms_ghvb via options node) std {outputs['5']['ms_report'][0]['std']:.3g}, "
          f"SamplerCustom(MomentumSampler_dpmpp_2m_hb) std {outputs['9']['ms_report'][0]['std']:.3g}, "
          f"{time.monotonic() - start:.1f}s")


def test_unknown_sampler_name_is_refused(server):
    prompt = {k: v for k, v in family_workflow("eps").items() if int(k) <= 5}  # the KSampler branch only
    prompt["4"]["inputs"]["sampler_name"] = "ms_no_such_sampler"
    status, body = server.post("/prompt", {"prompt": prompt})
    assert status == 400 and "4" in body["node_errors"], body


def test_committed_api_fixture_validates_against_the_real_schema(server):
    """The saved API-format workflow references checkpoints that are not installed here, so
    validation fails on the loaders; it must not fail on our nodes or on a sampler name."""
    prompt = json.loads((FIXTURES / "workflow_api.json").read_text())
    status, body = server.post("/prompt", {"prompt": prompt})
    errors = body.get("node_errors", {}) if status != 200 else {}
    ours = {nid for nid, n in prompt.items() if n["class_type"].startswith(("MomentumSampler", "KSampler"))}
    bad = {nid: errors[nid] for nid in ours if nid in errors
           and any(e["extra_info"].get("input_name") != "model" for e in errors[nid]["errors"])}
    assert not bad, json.dumps(bad)[:3000]


def ui_to_api(workflow: dict, info: dict) -> dict:
    """A UI-format workflow as an API prompt, mapping ``widgets_values`` by position onto the widget
    inputs that ``/object_info`` lists (with the extra client value after a control_after_generate
    seed), as the frontend does."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        spec = info[node["type"]]
        linked = {i["name"]: links[i["link"]] for i in node.get("inputs", []) if i.get("link") is not None}
        values = list(node.get("widgets_values", []))
        inputs = {}
        for section in ("required", "optional"):
            for name in spec["input_order"].get(section, []):
                declared = spec["input"][section][name]
                if name in linked:
                    inputs[name] = [str(linked[name][1]), linked[name][2]]
                elif isinstance(declared[0], list) or declared[0] in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"):
                    if values:
                        inputs[name] = values.pop(0)
                        if len(declared) > 1 and declared[1].get("control_after_generate"):
                            values.pop(0)
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


UI_FILES = [FIXTURES / "workflow_ui.json", *sorted((ROOT / "example_workflows").glob("*.json"))]


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflows_validate_against_the_real_schema(server, path):
    """Model files are not installed here, so only loader inputs may fail validation."""
    info = server.get("/object_info")
    prompt = ui_to_api(json.loads(path.read_text()), info)
    status, body = server.post("/prompt", {"prompt": prompt})
    errors = body.get("node_errors", {}) if status != 200 else {}
    bad = {}
    for nid, entry in errors.items():
        for error in entry["errors"]:
            if not (error["type"] == "value_not_in_list" and "Loader" in prompt[nid]["class_type"]):
                bad.setdefault(nid, []).append(error)
    assert not bad, json.dumps(bad)[:3000]
    checked = sum(1 for n in prompt.values() if n["class_type"].startswith("MomentumSampler"))
    print(f"\n{path.name}: {len(prompt)} nodes ({checked} ours) validated; loader-only errors: {sorted(errors)}")
