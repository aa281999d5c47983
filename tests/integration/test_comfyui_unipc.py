"""UniPC HB at β = 1 against ComfyUI's own ``uni_pc_bh2``, in process (run only with COMFYUI_PATH).

ComfyUI's ``uni_pc_bh2`` (comfy/extra_samplers/uni_pc.py) runs UniPC of order min(3, steps − 1) in
λ = −log σ for every model, with the lower order on its final steps and a last step to σ = 0.001
(order 1, no corrector) where ours ends in the final denoise x = D. So what is compared, on the same
tiny model, seed and schedule, through ComfyUI's sampling path (SamplerCustom's ``sample_custom``):

- every model value ("denoised" in the callbacks) and every corrected x along the way (ComfyUI's
  callback x is VP-scaled: x_VP = x / sqrt(1 + σ²)), and our result, which is the last model value;
- on 3 steps, the stock sampler as it is (it picks order 2 there itself);
- on 10 Karras steps, the stock sampler with its order set to 2 (``UniPC.sample(order=2)``), as ours;
- on flow (CONST) models ComfyUI's UniPC still uses λ = −log σ, so ours is compared there with the
  model family forced to "ve"; with the flow half-log-SNR (the default) the difference is reported.
"""

from __future__ import annotations

import math

import pytest
import torch

from momentum_samplers.nodes import naming

FAMILIES = ("eps", "v", "flow")
CFG, SEED = 5.0, 42


def run(comfy, model, pos, neg, sampler, sigmas):
    """Final latent and the per-step (denoised, x) through ComfyUI's ``sample_custom``."""
    steps = {}

    def callback(i, denoised, x, total):
        steps[i] = (denoised.clone(), x.clone())

    lat = torch.zeros(1, 4, 8, 8)
    noise = comfy.sample.prepare_noise(lat, SEED)
    out = comfy.sample.sample_custom(model, noise, CFG, sampler, sigmas.clone(), pos, neg, lat, callback=callback,
                                     disable_pbar=True, seed=SEED)
    return out, steps


def compare(comfy, model, pos, neg, ours, theirs, sigmas) -> dict[str, float]:
    """Max |diff| of the model values, of the corrected states (VP-rescaled), and of our result vs
    ComfyUI's last model value; all relative to max(1, max |denoised|)."""
    out, mine = run(comfy, model, pos, neg, ours, sigmas)
    ref_out, ref = run(comfy, model, pos, neg, theirs, sigmas)
    n = len(sigmas) - 1
    scale = max(1.0, max(d.abs().max().item() for d, _ in ref.values()))
    denoised = max((mine[i][0] - ref[i][0]).abs().max().item() for i in range(n))
    states = max(((mine[i][1] - ref[i][1] * math.sqrt(1.0 + float(sigmas[i]) ** 2)).abs().max().item()
                  for i in range(n - 1)), default=0.0)
    result = (out - model.model.process_latent_out(ref[n - 1][0])).abs().max().item()  # the output's latent space
    final = (out - ref_out).abs().max().item()
    return {"denoised": denoised / scale, "states": states / scale, "result": result / scale, "final": final / scale}


def report(label: str, diffs: dict[str, float]) -> None:
    print(f"  {label}: max |diff| / scale: model values {diffs['denoised']:.2g}, corrected x {diffs['states']:.2g}, "
          f"result vs last model value {diffs['result']:.2g} (vs ComfyUI's output, last step differs by design: "
          f"{diffs['final']:.2g})")


TOL = 2e-5  # float32 over a run (ComfyUI's UniPC computes λ and its weights in float32); measured ≤ 1e-5


def within_float32(diffs: dict[str, float], tol: float = TOL) -> bool:
    return diffs["denoised"] <= tol and diffs["states"] <= tol and diffs["result"] <= tol


@pytest.fixture(scope="module")
def models(tiny_models):
    """The shared tiny models (their output layer scaled to O(1) predictions in conftest)."""
    return tiny_models


@pytest.fixture
def order_2(comfy, monkeypatch):
    """ComfyUI's own UniPC with its order set to 2 (its sampler passes order = min(3, steps − 1))."""
    from comfy.extra_samplers import uni_pc

    stock = uni_pc.UniPC.sample
    monkeypatch.setattr(uni_pc.UniPC, "sample", lambda self, *a, **kw: stock(self, *a, **{**kw, "order": 2}))
    return comfy.samplers.sampler_object("uni_pc_bh2")


@pytest.mark.parametrize("family", FAMILIES)
def test_unipc_hb_beta_1_matches_comfyui_uni_pc_bh2(comfy, models, family, order_2):
    model, pos, neg = models[family]
    sampling = model.get_model_object("model_sampling")
    ours = comfy.nodes.NODE_CLASS_MAPPINGS[naming.sampler_node_id("unipc_hb")].execute(beta=1.0).args[0]
    ours_ve = comfy.samplers.KSAMPLER(ours.sampler_function, extra_options={"beta": 1.0, "model_family": "ve"})
    as_ve = ours if family != "flow" else ours_ve
    print(f"\n[{family}] unipc_hb(beta 1) vs ComfyUI {comfy.version} uni_pc_bh2")
    for steps, scheduler, theirs in ((10, "karras", order_2), (25, "karras", order_2), (8, "simple", order_2)):
        sigmas = comfy.samplers.calculate_sigmas(sampling, scheduler, steps).cpu()
        diffs = compare(comfy, model, pos, neg, as_ve, theirs, sigmas)
        report(f"{steps} {scheduler} steps, ComfyUI's UniPC at order 2" + (" (ours with λ = −log σ)" if family == "flow" else ""), diffs)
        assert within_float32(diffs), diffs
        euler = compare(comfy, model, pos, neg, as_ve, comfy.samplers.sampler_object("euler"), sigmas)["denoised"]
        print(f"    (the same model values vs euler's: {euler:.2g})")
        assert euler > 50 * TOL  # the match above is not the model barely moving
        if family == "flow":
            report("  same, ours with the flow half-log-SNR (not matched)", compare(comfy, model, pos, neg, ours, theirs, sigmas))


@pytest.mark.parametrize("family", ("eps", "v"))
def test_unipc_hb_beta_1_matches_stock_uni_pc_bh2_on_3_steps(comfy, models, family):
    """Three steps: the stock sampler itself runs order 2."""
    model, pos, neg = models[family]
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "karras", 3).cpu()
    ours = comfy.nodes.NODE_CLASS_MAPPINGS[naming.sampler_node_id("unipc_hb")].execute(beta=1.0).args[0]
    diffs = compare(comfy, model, pos, neg, ours, comfy.samplers.sampler_object("uni_pc_bh2"), sigmas)
    print(f"\n[{family}]")
    report("3 karras steps, stock uni_pc_bh2", diffs)
    assert within_float32(diffs), diffs
