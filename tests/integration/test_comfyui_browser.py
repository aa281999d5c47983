"""ComfyUI's own front end in a real headless Chromium (run only with COMFYUI_PATH).

Needs the ``playwright`` Python package in ComfyUI's environment and a Chromium binary, driven through
its path (``CHROMIUM_PATH``, default ``/usr/bin/chromium``; no browser download). The server is the
one of test_comfyui_pipelines (the offline SD1.5-layout checkpoint, also linked under the name the
SD1.5 example workflow asks for). The page loads every file in ``example_workflows/`` the way a user's
drop does (``app.loadGraphData``), and the front end itself converts the graph and queues it
(``app.queuePrompt``). As a user would, it opens KSampler's sampler_name list with a click and filters
it, and opens a node's help page with the selection toolbox's info button (the page and its figure
in the properties panel's Info tab). Screenshots go to ``out/browser/``; with ``MS_UPDATE_SCREENSHOT``
set, the committed ``docs/images/comfyui_frontend.png`` and ``comfyui_help_page.png`` are rewritten.
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


def fresh_canvas(page, clear: bool = True) -> None:
    """Nothing over the canvas (no open list, no properties panel, which the help test opens and which
    would cover a later screenshot) and, with ``clear``, an empty graph."""
    page.keyboard.press("Escape")
    if clear:
        page.evaluate("() => { app.canvas.deselectAll?.(); app.graph.clear(); }")
    panel = page.locator("[data-testid=properties-panel]")
    if panel.is_visible():
        page.locator('button[aria-label="Toggle properties panel"]:visible').first.click()
        panel.wait_for(state="hidden")
        page.mouse.move(28, 450)  # off the button (its tooltip) and the canvas: a blank spot of the sidebar


def show(page, scale: float, origin: tuple[float, float], at: tuple[float, float] = (0, 0)) -> None:
    """Zoom to ``scale`` with the graph point ``origin`` drawn at the canvas pixel ``at``."""
    page.evaluate("""([scale, [x, y], [cx, cy]]) => {
        app.canvas.ds.scale = scale; app.canvas.ds.offset = [cx / scale - x, cy / scale - y];
        app.canvas.setDirty(true, true); }""", [scale, list(origin), list(at)])
    page.wait_for_timeout(500)


def load(page, workflow: dict) -> list[dict]:
    fresh_canvas(page, clear=False)
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


#: Our nodes are drawn at this zoom, a sampler's two nodes side by side, as many samplers per screenshot
#: as fit in the canvas area below (pixels of the 1500×900 page, clear of the menus and toolbars).
NODES_SCALE = 0.8
NODES_AREA = (70, 100, 1490, 780)
GAP, TITLE = 20, 30  # graph units between nodes; LiteGraph's title bar, drawn above a node's pos


def shot_pages(sizes: dict) -> list[dict]:
    """Graph positions for our nodes, sampler node and options node side by side, in pages that each
    fill NODES_AREA at NODES_SCALE; page k lies at graph y = k × 10000, out of sight of the others."""
    pairs = [(naming.sampler_node_id(n), naming.options_node_id(n)) for n in SAMPLER_SPECS]
    left, top, right, bottom = NODES_AREA
    sampler_w = max(sizes[s][0] for s, _ in pairs)
    column = sampler_w + GAP + max(sizes[o][0] for _, o in pairs) + 2 * GAP
    columns = max(1, int((right - left) / NODES_SCALE // column))
    height = (bottom - top) / NODES_SCALE
    pages, used = [{}], 0.0
    for i in range(0, len(pairs), columns):
        row = pairs[i:i + columns]
        row_h = max(max(sizes[s][1], sizes[o][1]) for s, o in row) + TITLE + 2 * GAP
        if used + row_h > height and pages[-1]:
            pages.append({})
            used = 0.0
        y = (len(pages) - 1) * 10000 + used + TITLE + GAP
        for c, (s, o) in enumerate(row):
            pages[-1][s] = [c * column, y]
            pages[-1][o] = [c * column + sampler_w + GAP, y]
        used += row_h
    return pages


def test_our_nodes_render_with_their_widgets_and_defaults(page):
    fresh_canvas(page)
    sizes = page.evaluate("(ids) => Object.fromEntries(ids.map(id => [id, LiteGraph.createNode(id).size]))", OUR_NODES)
    pages = shot_pages(sizes)
    placed = {id: pos for p in pages for id, pos in p.items()}
    rendered = page.evaluate("""(placed) => Object.entries(placed).map(([id, pos]) => {
        const n = LiteGraph.createNode(id); n.pos = pos; app.graph.add(n);
        return {id, title: n.title, widgets: (n.widgets || []).map(w => [w.name, w.value]),
                outputs: n.outputs.map(o => o.type)};
    })""", placed)
    for node in rendered:
        name = node["id"].removeprefix(naming.SAMPLER_NODE_PREFIX).removeprefix(naming.OPTIONS_NODE_PREFIX)
        expected = [[p.name, p.default] for p in SAMPLER_SPECS[name].params]
        assert node["widgets"] == expected, node
        assert node["outputs"] == (["SAMPLER"] if node["id"].startswith(naming.SAMPLER_NODE_PREFIX) else ["MODEL"])
    left, top, right, bottom = NODES_AREA
    for k, shown in enumerate(pages, 1):
        show(page, NODES_SCALE, (0, (k - 1) * 10000), (left, top))
        drawn = page.evaluate("""(ids) => {
            app.canvas.draw(true, true);
            const boxes = ids.map(id => {
                const n = app.graph.nodes.find(n => n.type === id);
                const [x0, y0] = app.canvas.ds.convertOffsetToCanvas([n.pos[0], n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT]);
                const [x1, y1] = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0], n.pos[1] + n.size[1]]);
                return [id, [x0, y0, x1, y1]];
            });
            return {low_quality: app.canvas.low_quality, visible: app.canvas.visible_nodes.map(n => n.type),
                    boxes: Object.fromEntries(boxes)};
        }""", list(shown))
        shot = SHOTS / f"our_nodes_{k}.png"
        page.screenshot(path=str(shot))
        # drawn in full detail (titles, widgets), every node of the page whole inside the canvas area
        assert drawn["low_quality"] is False, f"{shot.name}: LiteGraph drew low-quality boxes"
        assert sorted(drawn["visible"]) == sorted(shown), (shot.name, drawn["visible"])
        for id, (x0, y0, x1, y1) in drawn["boxes"].items():
            assert left <= x0 and top <= y0 and x1 <= right and y1 <= bottom, (shot.name, id, drawn["boxes"][id])
        print(f"\n{shot.name}: {len(shown)} nodes at {NODES_SCALE:.0%}: "
              f"{', '.join(sorted({n.split('_', 1)[1] for n in shown}, key=list(SAMPLER_SPECS).index))}")
    assert sorted(placed) == sorted(OUR_NODES)
    print(f"{len(rendered)} nodes rendered with their defaults, e.g. {rendered[0]['title']}: {rendered[0]['widgets']}")


def widget_point(page, node_type: str, widget: str) -> list[float]:
    """The page pixel at the middle of a node's widget, where a user clicks it (drawn once first: a
    widget's y is set when it is drawn)."""
    page.evaluate("() => app.canvas.draw(true, true)")
    return page.evaluate("""([type, name]) => {
        const n = app.graph.nodes.find(n => n.type === type);
        const w = n.widgets.find(w => w.name === name);
        const h = w.computedHeight ?? LiteGraph.NODE_WIDGET_HEIGHT;
        const [x, y] = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, n.pos[1] + w.y + h / 2]);
        const r = app.canvas.canvas.getBoundingClientRect();
        return [r.left + x, r.top + y];
    }""", [node_type, widget])


def test_ksampler_dropdown_lists_our_names(page):
    fresh_canvas(page)
    values = page.evaluate("""() => {
        const n = LiteGraph.createNode("KSampler"); n.pos = [0, 0]; app.graph.add(n);
        return n.widgets.find(w => w.name === "sampler_name").options.values;
    }""")
    assert values[-len(OURS):] == OURS, values[-12:]
    show(page, 1.2, (0, 0), (200, 150))
    # a user's click on the sampler_name widget opens the front end's list of every sampler ...
    page.mouse.click(*widget_point(page, "KSampler", "sampler_name"))
    menu = page.locator(".litecontextmenu")
    menu.wait_for(state="visible")
    entries = "(menu) => [...menu.querySelectorAll('.litemenu-entry')].filter(e => e.offsetParent !== null).map(e => e.dataset.value)"
    listed = menu.evaluate(entries)
    assert listed == values, listed
    # ... and typing into its filter box leaves our names (the list is too long to show at once)
    menu.locator("input.comfy-context-menu-filter").press_sequentially("ms_")
    page.wait_for_timeout(400)
    filtered = menu.evaluate(entries)
    assert filtered == OURS, filtered
    page.screenshot(path=str(SHOTS / "ksampler.png"))
    menu.locator(".litemenu-entry", has_text="ms_ghvb").first.click()
    menu.wait_for(state="detached")
    chosen = page.evaluate("() => app.graph.nodes[0].widgets.find(w => w.name === 'sampler_name').value")
    assert chosen == "ms_ghvb"
    print(f"\nKSampler sampler_name opened by a click: {len(listed)} entries; filtered by 'ms_': {filtered}; "
          f"{chosen} picked from the list")


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
    # the front end asks for <node>/<locale>.md first and falls back to <node>.md on an error
    status = page.evaluate("async (u) => (await fetch(u)).status", f"/extensions/{folder}/docs/{OUR_NODES[0]}/en.md")
    assert status == 404, status
    print(f"\n{len(OUR_NODES)} help pages served at /extensions/{folder}/docs/<node>.md (per-locale address: {status})")


def help_page_lead(node_id: str) -> str:
    """The first paragraph under the page's title in web/docs/<node id>.md."""
    text = (ROOT / "web" / "docs" / f"{node_id}.md").read_text().split("\n# ", 1)[1]
    return text.split("\n\n")[1].strip()


HELP_SHOWN = [naming.sampler_node_id("ghvb"), naming.options_node_id("dpmpp_2m_hb")]


@pytest.mark.parametrize("node_id", HELP_SHOWN)
def test_help_page_opens_from_the_selection_toolbox(page, server, node_id):
    """As a user: click the node's title to select it, press the selection toolbox's info button, and
    read the page in the properties panel's Info tab, its figure loaded."""
    if not (ROOT / "web" / "docs" / f"{node_id}.md").is_file():
        pytest.skip("web/docs/ is not in this checkout: no help pages to show")
    title = server.get(f"/object_info/{node_id}")[node_id]["display_name"]
    fresh_canvas(page)
    page.evaluate("(id) => { const n = LiteGraph.createNode(id); n.pos = [0, 0]; app.graph.add(n); }", node_id)
    show(page, 1.2, (0, 0), (180, 250))
    x, y = page.evaluate("""() => {
        const n = app.graph.nodes[0];
        const [x, y] = app.canvas.ds.convertOffsetToCanvas([n.pos[0] + 60, n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT / 2]);
        const r = app.canvas.canvas.getBoundingClientRect();
        return [r.left + x, r.top + y];
    }""")
    page.mouse.click(x, y)
    toolbox = page.locator(".selection-toolbox")
    toolbox.wait_for(state="visible")
    toolbox.locator('[data-testid="info-button"]').click()
    panel = page.locator("[data-testid=properties-panel]")
    panel.locator(".markdown-content h1", has_text=title).wait_for(state="visible", timeout=15_000)
    tab = panel.locator("[role=tab][aria-selected=true]").inner_text().strip()
    figure = panel.locator(".markdown-content img")
    figure.first.wait_for(state="attached")
    figure.first.scroll_into_view_if_needed()
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=figure.first.element_handle(),
                           timeout=15_000)
    shown = panel.evaluate("""(p) => ({text: p.querySelector('.markdown-content').innerText,
        images: [...p.querySelectorAll('.markdown-content img')].map(i => ({src: i.src, alt: i.alt, width: i.naturalWidth}))})""")
    shot = SHOTS / f"help_{node_id}.png"
    page.screenshot(path=str(shot))
    assert tab == "Info", tab
    assert shown["text"].startswith(title), shown["text"][:200]
    assert " ".join(help_page_lead(node_id).split()) in " ".join(shown["text"].split()), shown["text"][:400]
    name = node_id.removeprefix(naming.SAMPLER_NODE_PREFIX).removeprefix(naming.OPTIONS_NODE_PREFIX)
    (img,) = shown["images"]
    assert img["src"].endswith(f"/docs/{name}.png") and img["width"] > 0, img
    print(f"\n{title}: help page in the Info tab, figure {img['src'].rsplit('/', 1)[1]} loaded "
          f"({img['width']} px wide); screenshot {shot}")
    if node_id == HELP_SHOWN[0] and os.environ.get("MS_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "images" / "comfyui_help_page.png")
    fresh_canvas(page)


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
