"""The pack inside a real ComfyUI, in process (docs/hosts.md#how-each-host-is-tested; run only with COMFYUI_PATH).

Loaded by ComfyUI's own custom-node loader; sampled through ComfyUI's KSampler / KSamplerAdvanced
node code and ``comfy.sample.sample_custom`` (SamplerCustom's path), on tiny EPS, V-prediction and
flow (CONST) models. What is checked:

- our names at the end of the stock lists that KSampler, KSamplerAdvanced and KSamplerSelect read;
- β = 1 reductions against ComfyUI's own samplers on the same model and seed: GHVB order 1 = euler,
  PLMS-HB / NT / GHVB order 4 = ipndm (every family, partial and full schedules),
  DPM++2M-HB = dpmpp_2m (EPS, V), on models whose samplers visibly differ; on flow models
  DPM++2M-HB uses the flow half-log-SNR λ = log((1 − σ)/σ) (docs/dpm_solver.md#flow-models), which is what core
  ``dpmpp_2m_sde`` with eta = 0 integrates, so it is compared with that (core ``dpmpp_2m`` uses −log σ
  for every model and is reported, not matched);
- inpainting: the kept region equals the input latent to 1e-6; denoise 0.5; chained KSamplerAdvanced.
"""

from __future__ import annotations

import pytest
import torch

from momentum_samplers.nodes import naming
from momentum_samplers.sampling import SAMPLER_SPECS

FAMILIES = ("eps", "v", "flow")
STEPS, CFG, SEED = 10, 5.0, 42
OURS = [naming.stock_name(name) for name in SAMPLER_SPECS]


def latent(seed: int = 3, scale: float = 0.0) -> dict:
    x = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(seed)) * scale
    return {"samples": x}


def node(comfy, node_id: str):
    return comfy.nodes.NODE_CLASS_MAPPINGS[node_id]


def with_options(comfy, model, sampler: str, **values):
    """The model through our MODEL-options node for ``sampler``."""
    spec = SAMPLER_SPECS[sampler]
    return node(comfy, naming.options_node_id(sampler)).execute(model=model, **{**spec.defaults(), **values}).args[0]


def ksampler(comfy, model, pos, neg, sampler_name, lat=None, denoise=1.0, scheduler="karras"):
    lat = latent() if lat is None else lat
    (out,) = comfy.nodes.KSampler().sample(model, SEED, STEPS, CFG, sampler_name, scheduler, pos, neg, lat, denoise)
    return out["samples"]


def sample_custom(comfy, model, pos, neg, sampler, sigmas, lat=None):
    lat = (latent() if lat is None else lat)["samples"]
    noise = comfy.sample.prepare_noise(lat, SEED)
    return comfy.sample.sample_custom(model, noise, CFG, sampler, sigmas, pos, neg, lat, seed=SEED,
                                      disable_pbar=True)


def sigmas_for(comfy, model, scheduler: str = "karras", steps: int = STEPS):
    sampling = model.get_model_object("model_sampling")
    return comfy.samplers.calculate_sigmas(sampling, scheduler, steps).cpu()


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def report(name: str, value: float) -> None:
    print(f"  {name}: {value:.3g}")


def assert_close(ours: torch.Tensor, ref: torch.Tensor, rel: float = 1e-5) -> None:
    """Equal up to float32 rounding over a run: |diff| <= rel * max(1, max |ref|)."""
    assert max_diff(ours, ref) <= rel * max(1.0, ref.abs().max().item())


def test_stock_lists_end_with_our_names(comfy):
    lst = comfy.samplers.KSampler.SAMPLERS
    assert lst is comfy.samplers.SAMPLER_NAMES
    assert lst[: len(comfy.names_before)] == comfy.names_before
    assert lst[len(comfy.names_before):] == OURS
    for node_cls in (comfy.nodes.KSampler, comfy.nodes.KSamplerAdvanced):
        assert node_cls.INPUT_TYPES()["required"]["sampler_name"][0][-len(OURS):] == OURS
    select = comfy.custom.KSamplerSelect.GET_NODE_INFO_V1()
    assert select["input"]["required"]["sampler_name"][1]["options"][-len(OURS):] == OURS
    for name in OURS:
        fn = getattr(comfy.k_sampling, "sample_" + name)
        assert comfy.samplers.ksampler(name).sampler_function is fn


def test_our_nodes_are_registered_with_tooltips(comfy):
    for name in SAMPLER_SPECS:
        for node_id in (naming.sampler_node_id(name), naming.options_node_id(name)):
            info = node(comfy, node_id).GET_NODE_INFO_V1()
            assert info["category"].startswith("sampling/custom_sampling/") and info["description"]
            inputs = info["input"]["required"]
            assert list(inputs)[-len(SAMPLER_SPECS[name].params):] == [p.name for p in SAMPLER_SPECS[name].params]
            assert all(opts.get("tooltip") for _, opts in inputs.values()), node_id


@pytest.mark.parametrize("family", FAMILIES)
def test_every_sampler_runs_end_to_end(comfy, tiny_models, family):
    model, pos, neg = tiny_models[family]
    sigmas = sigmas_for(comfy, model)
    for name, spec in SAMPLER_SPECS.items():
        out = ksampler(comfy, model, pos, neg, naming.stock_name(name))
        assert out.shape == (1, 4, 8, 8) and torch.isfinite(out).all(), name
        sampler = node(comfy, naming.sampler_node_id(name)).execute(**spec.defaults()).args[0]
        out = sample_custom(comfy, model, pos, neg, sampler, sigmas)
        assert torch.isfinite(out).all(), name


@pytest.mark.parametrize("family", FAMILIES)
def test_beta_one_matches_comfyui_samplers(comfy, tiny_models, family):
    model, pos, neg = tiny_models[family]
    print(f"\n[{family}] beta = 1 vs ComfyUI's own samplers (max |diff|, output scale "
          f"{ksampler(comfy, model, pos, neg, 'euler').abs().max().item():.3g})")
    euler = ksampler(comfy, model, pos, neg, "euler")
    ghvb1 = ksampler(comfy, with_options(comfy, model, "ghvb", order=1, beta=1.0), pos, neg, "ms_ghvb")
    report("KSampler ms_ghvb(order 1) vs euler", max_diff(ghvb1, euler))
    assert_close(ghvb1, euler)

    # PLMS-4 = ipndm, on a partial schedule (to σ_min) and the full one (both end with x = D at σ = 0)
    sigmas = sigmas_for(comfy, model)
    ipndm = comfy.samplers.ksampler("ipndm")
    for schedule, label in ((sigmas[:-1], "sigmas to sigma_min"), (sigmas, "full schedule")):
        ref = sample_custom(comfy, model, pos, neg, ipndm, schedule)
        for sampler in ("plms_hb", "plms_nt", "ghvb"):
            ours_node = node(comfy, naming.sampler_node_id(sampler)).execute(order=4, beta=1.0).args[0]
            ours = sample_custom(comfy, model, pos, neg, ours_node, schedule)
            report(f"SamplerCustom {sampler}(order 4) vs ipndm, {label}", max_diff(ours, ref))
            assert_close(ours, ref)

    hb = node(comfy, naming.sampler_node_id("dpmpp_2m_hb")).execute(beta=1.0).args[0]
    core_2m = sample_custom(comfy, model, pos, neg, comfy.samplers.ksampler("dpmpp_2m"), sigmas)
    # the parities above and below mean something only if the samplers themselves differ here
    distinct = max_diff(euler, core_2m)
    report("(euler vs dpmpp_2m, for scale)", distinct)
    assert distinct > 1e-3 * max(1.0, core_2m.abs().max().item())
    ours = sample_custom(comfy, model, pos, neg, hb, sigmas)
    report("SamplerCustom dpmpp_2m_hb vs dpmpp_2m", max_diff(ours, core_2m))
    if family != "flow":
        assert_close(ours, core_2m)
        return
    # flow: the exact exponential integrator in the flow's own λ (core's dpmpp_2m_sde, eta = 0)
    ode_2m = comfy.samplers.ksampler("dpmpp_2m_sde", {"eta": 0.0, "s_noise": 0.0})
    below_one = sigmas_for(comfy, model, "simple", STEPS + 1)[1:]  # starts below σ = 1, where λ is finite
    ref = sample_custom(comfy, model, pos, neg, ode_2m, below_one)
    ours_below = sample_custom(comfy, model, pos, neg, hb, below_one)
    report("flow, sigmas from 0.91: dpmpp_2m_hb vs dpmpp_2m_sde(eta 0)", max_diff(ours_below, ref))
    assert_close(ours_below, ref)
    # from σ = 1 core shifts σ0 to 1 − 1e-4 to keep λ finite; ours takes the exact DDIM limit
    ref_full = sample_custom(comfy, model, pos, neg, ode_2m, sigmas)
    report("flow, sigmas from 1.0: dpmpp_2m_hb vs dpmpp_2m_sde(eta 0)", max_diff(ours, ref_full))
    assert max_diff(ours, ref_full) <= 1e-2 * max(1.0, ref_full.abs().max().item())


@pytest.mark.parametrize("family", FAMILIES)
def test_inpaint_mask_keeps_the_kept_region(comfy, tiny_models, family):
    model, pos, neg = tiny_models[family]
    lat = latent(seed=7, scale=1.0)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1.0  # left half is repainted, right half kept
    lat["noise_mask"] = mask
    errors = {}
    for name in OURS:
        out = ksampler(comfy, model, pos, neg, name, lat=dict(lat))
        errors[name] = max_diff(out[..., 4:], lat["samples"][..., 4:])
        assert max_diff(out[..., :4], lat["samples"][..., :4]) > 1e-2, name  # the masked part did change
    print(f"\n[{family}] inpaint, max |kept region - input latent|: "
          + ", ".join(f"{k} {v:.2g}" for k, v in errors.items()))
    assert all(v <= 1e-6 for v in errors.values()), errors


@pytest.mark.parametrize("family", FAMILIES)
def test_denoise_half(comfy, tiny_models, family):
    model, pos, neg = tiny_models[family]
    lat = latent(seed=9, scale=1.0)
    euler = ksampler(comfy, model, pos, neg, "euler", lat=lat, denoise=0.5)
    ghvb1 = ksampler(comfy, with_options(comfy, model, "ghvb", order=1, beta=1.0), pos, neg, "ms_ghvb",
                     lat=lat, denoise=0.5)
    print(f"\n[{family}] denoise 0.5: ms_ghvb(order 1, beta 1) vs euler: {max_diff(ghvb1, euler):.3g}")
    assert_close(ghvb1, euler)
    for name in OURS:
        out = ksampler(comfy, model, pos, neg, name, lat=lat, denoise=0.5)
        assert torch.isfinite(out).all(), name


def chained(comfy, model, pos, neg, name, split=5):
    adv = comfy.nodes.KSamplerAdvanced()
    lat = latent(seed=11)
    (mid,) = adv.sample(model, "enable", SEED, STEPS, CFG, name, "karras", pos, neg, lat, 0, split, "enable")
    (out,) = adv.sample(model, "disable", SEED, STEPS, CFG, name, "karras", pos, neg, mid, split, 10000, "disable")
    return mid["samples"], out["samples"]


@pytest.mark.parametrize("family", FAMILIES)
def test_chained_ksampler_advanced(comfy, tiny_models, family):
    model, pos, neg = tiny_models[family]
    _, euler = chained(comfy, model, pos, neg, "euler")
    _, ghvb1 = chained(comfy, with_options(comfy, model, "ghvb", order=1, beta=1.0), pos, neg, "ms_ghvb")
    print(f"\n[{family}] chained KSamplerAdvanced 0-5 + 5-10: ms_ghvb(order 1, beta 1) vs euler: "
          f"{max_diff(ghvb1, euler):.3g}")
    assert_close(ghvb1, euler)
    for name in OURS:
        mid, out = chained(comfy, model, pos, neg, name)
        assert torch.isfinite(mid).all() and torch.isfinite(out).all() and not torch.equal(mid, out), name


@pytest.mark.parametrize("family", FAMILIES)
def test_stochastic_samplers_follow_the_seed(comfy, tiny_models, family):
    """Stochastic samplers draw their noise from the KSampler seed (``extra_args["seed"]``)."""
    model, pos, neg = tiny_models[family]
    for name, spec in SAMPLER_SPECS.items():
        if not spec.stochastic:
            continue
        stock = naming.stock_name(name)
        lat = latent()
        a = comfy.nodes.KSampler().sample(model, 5, STEPS, CFG, stock, "karras", pos, neg, lat)[0]["samples"]
        b = comfy.nodes.KSampler().sample(model, 5, STEPS, CFG, stock, "karras", pos, neg, lat)[0]["samples"]
        c = comfy.nodes.KSampler().sample(model, 6, STEPS, CFG, stock, "karras", pos, neg, lat)[0]["samples"]
        assert torch.equal(a, b) and not torch.equal(a, c), name
