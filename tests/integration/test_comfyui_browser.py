"""ComfyUI's own front end in a real headless Chromium (run only with COMFYUI_PATH).

Needs the ``playwright`` Python package in ComfyUI's environment and a Chromium binary, driven through
its path (``CHROMIUM_PATH``, default ``/usr/bin/chromium``; no browser download). The server is the
one of test_comfyui_pipelines (the offline SD1.5-layout checkpoint, also linked under the name the
SD1.5 example workflow asks for). The page loads every file in ``example_workflows/`` the way a user's
drop does (``app.loadGraphData``), and the front end itself converts the graph and queues it
(``app.queuePrompt``). Screenshots go to ``out/browser/``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from test_comfyui_pipelines import comfy_base, image, models_dir
from test_comfyui_server import Server

from momentum_samplers.nodes import naming
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "browser"
WORKFLOWS = sorted((ROOT / "example_workflows").glob("*.json"))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
OURS = [naming.stock_name(name) for name in SAMPLER_SPECS]
OUR_NODES = [f(name) for name in SAMPLER_SPECS for f in (naming.sampler_node_id, naming.options_node_id)]

#: What a small CPU run changes in a loaded workflow (through the front end's widgets): image size and steps.
SMALL = {"EmptyLatentImage": {"width": 64, "height": 64}, "EmptySD3LatentImage": {"width": 64, "height": 64},
         "KSampler": {"steps": 3}, "BasicScheduler": {"steps": 3}}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = comfy_base(tmp_path_factory.mktemp("comfy_browser"), models_dir())
    # a returning user: no first-run template browser over the canvas
    (base / "user" / "default").mkdir(parents=True)
    (base / "user" / "default" / "comfy.settings.json").write_text(json.dumps(
        {"Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingNodesWarning": True,
         "Comfy.Minimap.Visible": False}))
    srv = Server(base)
    try:
        srv.wait_up()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (set CHROMIUM_PATH)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        pg = browser.new_page(viewport={"width": 1500, "height": 900})
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(server.url, wait_until="domcontentloaded")
        pg.wait_for_function("() => window.app && window.app.graph && window.LiteGraph "
                             "&& Object.keys(window.LiteGraph.registered_node_types).length > 100", timeout=120_000)
        pg.wait_for_timeout(1500)
        print(f"\nfront end {pg.evaluate('() => window.__COMFYUI_FRONTEND_VERSION__ || null')} in "
              f"{browser.version}; page errors while loading: {errors[:3]}")
        pg.page_errors = errors
        yield pg
        browser.close()


def graph_nodes(page) -> list[dict]:
    return page.evaluate("""() => app.graph.nodes.map(n => ({
        id: n.id, type: n.type, registered: !!LiteGraph.registered_node_types[n.type],
        widgets: (n.widgets || []).map(w => ({name: w.name, value: w.value, options: w.options?.values ?? null}))}))""")


def fit_view(page) -> None:
    page.evaluate("async () => { await app.extensionManager.command.execute('Comfy.Canvas.FitView'); "
                  "app.canvas.setDirty(true, true); }")
    page.wait_for_timeout(800)


def load(page, workflow: dict) -> list[dict]:
    page.evaluate("async (wf) => { await app.loadGraphData(wf); }", workflow)
    fit_view(page)
    return graph_nodes(page)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_example_workflow_loads_with_no_missing_node(page, path):
    workflow = json.loads(path.read_text())
    nodes = load(page, workflow)
    page.screenshot(path=str(SHOTS / f"{path.stem}.png"))
    missing = [n["type"] for n in nodes if not n["registered"]]
    assert not missing, missing
    assert len(nodes) == len(workflow["nodes"])
    dialog = page.locator(".p-dialog").all_inner_texts()
    assert not any("missing" in text.lower() for text in dialog), dialog
    by_id = {n["id"]: n for n in nodes}
    for node in workflow["nodes"]:  # our nodes' widget values came through as saved
        if node["type"].startswith("MomentumSampler") or node["type"] == "KSampler":
            shown = [w["value"] for w in by_id[node["id"]]["widgets"]]
            assert shown[:len(node["widgets_values"])] == node["widgets_values"], (node["type"], shown)
    print(f"\n{path.name}: {len(nodes)} nodes, none missing; screenshot {SHOTS / (path.stem + '.png')}")


def test_our_nodes_render_with_their_widgets_and_defaults(page):
    page.evaluate("() => app.graph.clear()")
    rendered = page.evaluate("""(ids) => ids.map((id, i) => {
        const n = LiteGraph.createNode(id);
        n.pos = [20 + (i % 4) * 380, 20 + Math.floor(i / 4) * 240];
        app.graph.add(n);
        return {id, title: n.title, widgets: (n.widgets || []).map(w => [w.name, w.value]),
                outputs: n.outputs.map(o => o.type)};
    })""", OUR_NODES)
    fit_view(page)
    page.screenshot(path=str(SHOTS / "our_nodes.png"))
    for node in rendered:
        name = node["id"].removeprefix(naming.SAMPLER_NODE_PREFIX).removeprefix(naming.OPTIONS_NODE_PREFIX)
        expected = [[p.name, p.default] for p in SAMPLER_SPECS[name].params]
        assert node["widgets"] == expected, node
        assert node["outputs"] == (["SAMPLER"] if node["id"].startswith(naming.SAMPLER_NODE_PREFIX) else ["MODEL"])
    print(f"\n{len(rendered)} nodes rendered with their defaults, e.g. {rendered[0]['title']}: {rendered[0]['widgets']}")


def test_ksampler_dropdown_lists_our_names(page):
    page.evaluate("() => app.graph.clear()")
    values = page.evaluate("""() => {
        const n = LiteGraph.createNode("KSampler"); n.pos = [100, 100]; app.graph.add(n);
        return n.widgets.find(w => w.name === "sampler_name").options.values;
    }""")
    assert values[-len(OURS):] == OURS, values[-12:]
    # open the dropdown as a user would, for the screenshot
    page.evaluate("() => { app.canvas.ds.scale = 1.3; app.canvas.ds.offset = [0, 0]; app.canvas.setDirty(true, true); }")
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "ksampler.png"))
    print(f"\nKSampler sampler_name: {len(values)} entries, ending with {values[-len(OURS):]}")


def test_node_help_pages_are_served(page, server):
    docs = ROOT / "web" / "docs"
    if not docs.is_dir():
        pytest.skip("web/docs/ is not in this checkout: no help pages to serve")
    info = server.get("/object_info")
    missing = []
    for node_id in OUR_NODES:
        # the front end's getNodeHelpBaseUrl: /extensions/<custom node folder>/docs/<node>.md
        folder = info[node_id]["python_module"].split(".")[1].split("@")[0]
        url = f"/extensions/{folder}/docs/{node_id}.md"
        status, text = page.evaluate("async (u) => { const r = await fetch(u); return [r.status, await r.text()]; }", url)
        if status != 200 or f"# {info[node_id]['display_name']}" not in text:
            missing.append((url, status, text[:200]))
    assert not missing, missing
    print(f"\n{len(OUR_NODES)} help pages served at /extensions/{folder}/docs/<node>.md")


def small_run_edits(page) -> None:
    """Shrink the loaded workflow for a CPU (image size, steps) through the widgets, as a user would."""
    page.evaluate("""(small) => {
        for (const n of app.graph.nodes) {
            for (const [name, value] of Object.entries(small[n.type] || {})) {
                const w = n.widgets.find(w => w.name === name);
                w.value = value; w.callback?.(value);
            }
        }
    }""", SMALL)


def flux_on_the_sd15_standin(page) -> None:
    """The Flux workflow's three loaders replaced by one CheckpointLoaderSimple (the SD1.5-layout file):
    a Flux-shaped checkpoint with T5-XXL does not fit this machine. Everything after the loaders
    (FluxGuidance, ModelSamplingFlux, BasicGuider, our SAMPLER node, SamplerCustomAdvanced) is the file's."""
    page.evaluate("""() => {
        const g = app.graph;
        const ckpt = LiteGraph.createNode("CheckpointLoaderSimple"); ckpt.pos = [0, 0]; g.add(ckpt);
        ckpt.widgets[0].value = "sd15.safetensors";
        const slot = {MODEL: 0, CLIP: 1, VAE: 2};
        for (const type of ["UNETLoader", "DualCLIPLoader", "VAELoader"]) {
            const old = g.nodes.find(n => n.type === type);
            for (const out of old.outputs) {
                for (const linkId of [...(out.links || [])]) {
                    const link = g.links.get ? g.links.get(linkId) : g.links[linkId];
                    ckpt.connect(slot[out.type], g.getNodeById(link.target_id), link.target_slot);
                }
            }
            g.remove(old);
        }
    }""")


def queue_from_the_front_end(page, server) -> tuple[dict, dict]:
    """app.queuePrompt: the front end converts the graph and posts it; returns (API prompt, outputs)."""
    with page.expect_response(lambda r: r.url.endswith("/prompt") and r.request.method == "POST") as answer:
        page.evaluate("() => app.queuePrompt(0, 1)")
    response = answer.value
    assert response.status == 200, response.text()
    prompt = response.request.post_data_json["prompt"]
    prompt_id = response.json()["prompt_id"]
    end = time.monotonic() + 1800
    while time.monotonic() < end:
        history = server.get(f"/history/{prompt_id}")
        if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
            entry = history[prompt_id]
            assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[:3000]
            return prompt, entry["outputs"]
        time.sleep(1.0)
    raise TimeoutError(prompt_id)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_example_workflow_queued_from_the_front_end(page, server, path):
    workflow = json.loads(path.read_text())
    load(page, workflow)
    if any(n["type"] == "UNETLoader" for n in workflow["nodes"]):
        flux_on_the_sd15_standin(page)
    small_run_edits(page)
    start = time.monotonic()
    prompt, outputs = queue_from_the_front_end(page, server)
    # our nodes reached the server with the file's values, converted by the front end
    for node in workflow["nodes"]:
        if node["type"].startswith("MomentumSampler"):
            sent = prompt[str(node["id"])]
            assert sent["class_type"] == node["type"]
            name = node["type"].removeprefix(naming.SAMPLER_NODE_PREFIX).removeprefix(naming.OPTIONS_NODE_PREFIX)
            saved = dict(zip([p.name for p in SAMPLER_SPECS[name].params], node["widgets_values"], strict=True))
            assert {k: sent["inputs"][k] for k in saved} == saved, sent
        if node["type"] == "KSampler":
            assert prompt[str(node["id"])]["inputs"]["sampler_name"] == node["widgets_values"][4]
    saved = {nid: image(server, outputs, nid) for nid in outputs if "images" in outputs[nid]}
    expected = [str(n["id"]) for n in workflow["nodes"] if n["type"] == "SaveImage"]
    assert sorted(saved) == sorted(expected)
    for img in saved.values():
        assert img.shape == (64, 64, 3) and img.std() > 1.0
    page.wait_for_timeout(1500)  # the previews arrive over the websocket
    fit_view(page)
    page.screenshot(path=str(SHOTS / f"{path.stem}_queued.png"))
    images = list(saved.values())
    spread = max(int(np.abs(a - images[0]).max()) for a in images)
    print(f"\n{path.name}: queued from the browser, {len(prompt)} nodes sent, {len(saved)} images "
          f"(max difference between them {spread} levels), {time.monotonic() - start:.0f}s")
    if path.name.startswith("sd15"):
        target = ROOT / "docs" / "images" / "comfyui_frontend.png"
        if os.environ.get("MS_UPDATE_SCREENSHOT"):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SHOTS / f"{path.stem}_queued.png", target)
