"""tools/make_models.py without a host: the stand-in's law, its UNet wrapper, the key layout and the
Hugging Face cache entry (torch only; these run in CI). Building real checkpoints needs ComfyUI's
classes and is exercised by the ComfyUI integration tests."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_models", ROOT / "tools" / "make_models.py")
mm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mm)


def log_density(law, x, a, b, context):
    """log p(x) for x = a·x0 + b·n, written from the mixture's definition."""
    mu = law.means(x.shape[-2], x.shape[-1])
    var = a**2 * law.spread**2 + b**2
    d = x[0].numel()
    comps = [law.log_weights(context, 1)[0, k] - 0.5 * ((x[0] - a * mu[k]) ** 2).sum() / var
             - 0.5 * d * math.log(2 * math.pi * var) for k in range(mu.shape[0])]
    return torch.logsumexp(torch.stack(comps), dim=0)


@pytest.mark.parametrize(("a", "b"), [(1.0, 0.3), (1.0, 3.0), (0.6, 0.8), (0.05, 0.95)])
def test_posterior_mean_is_tweedies_formula(a, b):
    """E[x0 | x] = (x + b²·∇log p(x)) / a, with the gradient of the density by autograd."""
    law = mm.MixtureLaw(seed=3)
    g = torch.Generator().manual_seed(1)
    context = torch.randn(1, 77, 32, generator=g, dtype=torch.float64)
    x = (a * law.means(6, 5)[1] + b * torch.randn(4, 6, 5, generator=g, dtype=torch.float64))[None]
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(log_density(law, x, a, b, context), x)
    expected = (x.detach() + b**2 * grad) / a
    got = law.posterior_mean(x.detach(), torch.tensor([a]), torch.tensor([b]), context)
    assert torch.allclose(got, expected, atol=1e-9), (got - expected).abs().max()


def test_posterior_mean_limits_and_prompt_dependence():
    law = mm.MixtureLaw(seed=0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, 8, 8, generator=g, dtype=torch.float64)
    # no noise: the data point itself; pure noise (a flow at sigma = 1): the prior mean
    assert torch.allclose(law.posterior_mean(x, 1.0, 1e-6), x, atol=1e-9)
    prior = law.means(8, 8).mean(dim=0)
    assert torch.allclose(law.posterior_mean(x, 0.0, 1.0), prior.expand_as(x), atol=1e-12)
    # at high noise the answer follows the prompt (what classifier-free guidance extrapolates)
    contexts = torch.randn(2, 77, 768, generator=g)
    d = law.posterior_mean(x[:1].expand(2, -1, -1, -1), 0.3, 3.0, contexts)
    assert (d[0] - d[1]).abs().max() > 0.1


def test_sigma_of_timestep_interpolates_log_sigma():
    sigmas = mm.sd1_sigmas()
    assert len(sigmas) == 1000 and 0.029 < sigmas[0] < 0.03 and 14.6 < sigmas[-1] < 14.7  # SD1.x's range
    t = torch.tensor([0.0, 10.0, 999.0, 10.5])
    got = mm.sigma_of_timestep(t, sigmas)
    assert torch.allclose(got[:3], sigmas[[0, 10, 999]])
    assert torch.allclose(got[3], (sigmas[10] * sigmas[11]).sqrt())


class ConstantUNet(torch.nn.Module):
    """A stand-in base class: one parameter, output = that parameter everywhere."""

    def __init__(self, channels: int = 4):
        super().__init__()
        self.level = torch.nn.Parameter(torch.full((channels,), 0.25))

    def forward(self, x, timesteps=None, context=None, **kwargs):
        return self.level.view(1, -1, 1, 1).expand_as(x)


@pytest.mark.parametrize("parameterization", ["eps", "v"])
def test_standin_unet_predicts_the_law_plus_its_own_output(parameterization):
    mix = 0.1
    unet = mm.standin_unet(base_target=f"{__name__}.ConstantUNet", mix=mix, law_seed=5,
                           parameterization=parameterization, channels=4)
    assert isinstance(unet, ConstantUNet) and list(unet.state_dict()) == ["level"]
    g = torch.Generator().manual_seed(0)
    x, context, t = torch.randn(2, 4, 8, 8, generator=g), torch.randn(2, 77, 768, generator=g), torch.tensor([900.0, 40.0])
    out = unet(x, t, context).double() - mix * 0.25
    sigma = mm.sd1_sigmas()[[900, 40]]
    a, b = (1 + sigma**2) ** -0.5, sigma * (1 + sigma**2) ** -0.5
    a4, b4 = a.view(-1, 1, 1, 1), b.view(-1, 1, 1, 1)
    # the data prediction a host recovers from the output is the law's
    denoised = (x.double() - b4 * out) / a4 if parameterization == "eps" else a4 * x.double() - b4 * out
    law = mm.MixtureLaw(seed=5).posterior_mean(x.double(), a, b, context)
    assert torch.allclose(denoised, law, atol=1e-4)


def test_default_init_reaches_layers_that_disable_it():
    class NoInit(torch.nn.Linear):
        def reset_parameters(self):
            return None

    layer = NoInit(8, 8)
    torch.nn.init.zeros_(layer.weight)
    torch.manual_seed(0)
    mm.default_init(torch.nn.Sequential(layer))
    torch.manual_seed(0)
    reference = torch.nn.Linear(8, 8)
    assert layer.weight.abs().min() > 0 and torch.equal(layer.weight, reference.weight)


def test_checkpoint_layout():
    t = torch.zeros(1)
    keys = mm.checkpoint_keys({"out.2.weight": t}, {"decoder.conv_out.weight": t},
                              {"embeddings.token_embedding.weight": t, "text_model.final_layer_norm.weight": t})
    assert sorted(keys) == ["cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
                            "cond_stage_model.transformer.text_model.final_layer_norm.weight",
                            "first_stage_model.decoder.conv_out.weight", "model.diffusion_model.out.2.weight"]


def test_small_config_changes_only_the_widths():
    unet, ldm, vae = mm.small_configs(32)
    assert {k for k in unet if unet[k] != mm.SD15_UNET[k]} == {"model_channels"}
    assert {k for k in ldm if ldm[k] != mm.SD15_UNET_LDM[k]} == {"model_channels"}
    assert {k for k in vae if vae[k] != mm.SD15_VAE[k]} == {"ch"}
    config = json.loads(json.dumps(mm.v1_inference_config(ldm, vae, "ms_standin.standin_unet", {"mix": 0.05})))
    params = config["model"]["params"]
    assert params["unet_config"]["target"] == "ms_standin.standin_unet"
    assert params["unet_config"]["params"]["model_channels"] == 32 and params["unet_config"]["params"]["mix"] == 0.05
    assert params["first_stage_config"]["params"]["ddconfig"]["ch"] == 32


def test_hf_cache_entry(tmp_path):
    tokenizer = tmp_path / "tok"
    tokenizer.mkdir()
    (tokenizer / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 8192, "do_lower_case": True}))
    (tokenizer / "vocab.json").write_text("{}")
    (tokenizer / "merges.txt").write_text("#version: 0.2\n")
    config = tmp_path / "clip.json"
    config.write_text(json.dumps({"model_type": "clip_text_model"}))
    snapshot = mm.write_hf_cache(tokenizer, config, tmp_path / "hf")
    repo = tmp_path / "hf" / "hub" / "models--openai--clip-vit-large-patch14"
    ref = (repo / "refs" / "main").read_text()
    assert re.fullmatch(r"[0-9a-f]{40}", ref) and snapshot == repo / "snapshots" / ref
    assert sorted(p.name for p in snapshot.iterdir()) == ["config.json", "merges.txt", "tokenizer_config.json",
                                                          "vocab.json"]
    assert json.loads((snapshot / "tokenizer_config.json").read_text())["model_max_length"] == 77
    assert json.loads((snapshot / "config.json").read_text()) == {"model_type": "clip_text_model"}
    assert mm.write_hf_cache(tokenizer, config, tmp_path / "hf") == snapshot  # same content, same id
