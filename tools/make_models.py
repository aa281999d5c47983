"""Model files for the host integration tests, made offline: seeded random weights in real layouts.

Nothing is downloaded. The network classes are ComfyUI's own (UNet, autoencoder) and transformers'
CLIP text model, so the files load in ComfyUI, A1111 and Forge like a real SD1.5 checkpoint::

    COMFYUI_PATH=<ComfyUI checkout> <python with torch, transformers, safetensors> \\
        tools/make_models.py --out <folder outside the repository> [--which sd15,sd15-small,standin,hf-cache]

What each name writes into ``--out``:

``sd15``        ``sd15.safetensors``: SD1.5's architecture in the original single-file layout
                (``model.diffusion_model.*``, ``first_stage_model.*``,
                ``cond_stage_model.transformer.text_model.*``), fp16, about 2 GB.
``sd15-small``  ``sd15-small.safetensors`` + ``sd15-small.yaml``: the same with 32 base channels in the
                UNet and the autoencoder (about 280 MB) and the v1-inference-style config A1111 reads
                beside a checkpoint. ComfyUI detects SD1.5 by its real widths: use ``sd15`` there.
``standin``     ``standin.safetensors`` (a link to the small checkpoint) + ``standin.yaml`` +
                ``ms_standin.py`` (a copy of this file): a UNet that really denoises. Its prediction is
                the exact one of :class:`MixtureLaw`, a prompt-dependent Gaussian mixture over latents,
                plus ``mix`` times the random UNet's, so samplers differ visibly through a host's full
                pipeline and parity checks between samplers can fail. A1111 builds it from the yaml's
                ``unet_config`` target (``ms_standin.standin_unet``; put ``--out`` on ``PYTHONPATH``);
                in ComfyUI, :func:`comfyui_patch` wraps a loaded MODEL.
``hf-cache``    ``hf-home/hub/models--openai--clip-vit-large-patch14``: CLIP-L's tokenizer and config as
                a Hugging Face cache entry, for ``HF_HOME=<out>/hf-home HF_HUB_OFFLINE=1
                TRANSFORMERS_OFFLINE=1``.

Weights: every layer gets its PyTorch default initialisation (ComfyUI's operations skip it, so it
is run again here), including the layers the original models zero-initialise, whose zero output
would make every prediction identical. The same seed gives byte-identical files.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import importlib
import json
import math
import os
import shutil
import sys
from pathlib import Path

import torch

WHICH = ("sd15", "sd15-small", "standin", "hf-cache")

#: SD1.5's UNet as ComfyUI's UNetModel takes it (attention per block instead of attention_resolutions).
SD15_UNET = {
    "image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 320,
    "num_res_blocks": [2, 2, 2, 2], "channel_mult": [1, 2, 4, 4],
    "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "transformer_depth_middle": 1,
    "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
    "context_dim": 768, "num_heads": 8, "num_head_channels": -1, "use_spatial_transformer": True,
    "use_linear_in_transformer": False, "legacy": False, "use_checkpoint": False, "adm_in_channels": None,
    "use_temporal_attention": False, "use_temporal_resblock": False,
}
#: The same UNet in the original (ldm) configuration, as v1-inference.yaml writes it.
SD15_UNET_LDM = {
    "image_size": 32, "in_channels": 4, "out_channels": 4, "model_channels": 320,
    "attention_resolutions": [4, 2, 1], "num_res_blocks": 2, "channel_mult": [1, 2, 4, 4], "num_heads": 8,
    "use_spatial_transformer": True, "transformer_depth": 1, "context_dim": 768, "use_checkpoint": False,
    "legacy": False,
}
SD15_VAE = {
    "double_z": True, "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
    "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0,
}
SMALL_CHANNELS = 32
#: SD1.x's noise schedule ("scaled linear" betas), for turning a UNet timestep into sigma.
LINEAR_START, LINEAR_END, TIMESTEPS = 0.00085, 0.012, 1000
CLIP_REPO = "models--openai--clip-vit-large-patch14"


# --- the denoising stand-in (torch only: this file is also written out as ms_standin.py) ----------


class MixtureLaw:
    """A Gaussian mixture over latents whose component weights depend on the prompt.

    Component k is N(mu_k, spread^2 I) with mu_k a per-channel level plus a low-frequency cosine pattern
    (so any latent size works); its log-weight is ``gain`` times the cosine between the mean-pooled
    text context and a fixed random direction, scaled so that different prompts, and classifier-free
    guidance, change the result. For x = a·x0 + b·n the posterior mean E[x0 | x] is closed form.
    """

    def __init__(self, seed: int = 0, components: int = 4, channels: int = 4, spread: float = 0.5,
                 gain: float = 40.0):
        g = torch.Generator().manual_seed(seed)
        self.seed, self.spread, self.gain = seed, spread, gain
        self.levels = torch.randn(components, channels, generator=g, dtype=torch.float64)
        self.amplitudes = 0.7 * torch.randn(components, channels, generator=g, dtype=torch.float64)
        self.frequencies = torch.randint(1, 3, (components, 2), generator=g).to(torch.float64)
        self.phases = 2 * math.pi * torch.rand(components, channels, generator=g, dtype=torch.float64)
        self._directions: dict[int, torch.Tensor] = {}

    def means(self, height: int, width: int) -> torch.Tensor:
        """The component means, shape (K, C, H, W), float64."""
        ys = torch.arange(height, dtype=torch.float64) / height
        xs = torch.arange(width, dtype=torch.float64) / width
        wave = (self.frequencies[:, 0, None, None] * ys[None, :, None]
                + self.frequencies[:, 1, None, None] * xs[None, None, :])  # K, H, W
        pattern = torch.cos(2 * math.pi * wave[:, None] + self.phases[:, :, None, None])
        return self.levels[:, :, None, None] + self.amplitudes[:, :, None, None] * pattern

    def log_weights(self, context: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Log mixture weights per batch item, shape (B, K), float64."""
        k = self.levels.shape[0]
        if context is None:
            return torch.full((batch, k), -math.log(k), dtype=torch.float64)
        pooled = context.to(torch.float64).mean(dim=1)
        pooled = pooled - pooled.mean(dim=-1, keepdim=True)
        pooled = pooled / pooled.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        dim = pooled.shape[-1]
        if dim not in self._directions:
            g = torch.Generator().manual_seed(self.seed + 1)
            d = torch.randn(k, dim, generator=g, dtype=torch.float64)
            self._directions[dim] = d / d.norm(dim=-1, keepdim=True)
        logits = self.gain * pooled.cpu() @ self._directions[dim].T
        return torch.log_softmax(logits, dim=-1).to(context.device)

    def posterior_mean(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor,
                       context: torch.Tensor | None = None) -> torch.Tensor:
        """E[x0 | x] for x = a·x0 + b·n, n ~ N(0, I); ``a``, ``b`` broadcast per batch item (shape (B,))."""
        xd = x.to(torch.float64)
        batch = xd.shape[0]
        a = torch.as_tensor(a, dtype=torch.float64, device=x.device).reshape(-1).expand(batch)
        b = torch.as_tensor(b, dtype=torch.float64, device=x.device).reshape(-1).expand(batch)
        mu = self.means(x.shape[-2], x.shape[-1]).to(x.device)[None]  # 1, K, C, H, W
        a5, var5 = a.view(-1, 1, 1, 1, 1), (a**2 * self.spread**2 + b**2).view(-1, 1, 1, 1, 1)
        residual = xd[:, None] - a5 * mu  # B, K, C, H, W
        log_r = self.log_weights(context, batch) - 0.5 * (residual**2 / var5).sum(dim=(2, 3, 4))
        r = torch.softmax(log_r, dim=1)[:, :, None, None, None]
        per_component = mu + a5 * self.spread**2 / var5 * residual
        return (r * per_component).sum(dim=1).to(x.dtype)


def sd1_sigmas(linear_start: float = LINEAR_START, linear_end: float = LINEAR_END,
               timesteps: int = TIMESTEPS) -> torch.Tensor:
    """SD1.x's discrete sigmas, index = UNet timestep."""
    betas = torch.linspace(linear_start**0.5, linear_end**0.5, timesteps, dtype=torch.float64) ** 2
    alphas_cumprod = torch.cumprod(1 - betas, dim=0)
    return ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5


def sigma_of_timestep(t: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Sigma at a (fractional) timestep, interpolating log sigma as k-diffusion's t_to_sigma does."""
    t = t.to(torch.float64).reshape(-1).clamp(0, len(sigmas) - 1)
    low = t.floor().long().clamp(max=len(sigmas) - 2)
    w = t - low
    log_sigmas = sigmas.log().to(t.device)
    return ((1 - w) * log_sigmas[low] + w * log_sigmas[low + 1]).exp()


def _standin_forward(self, x, timesteps=None, context=None, *args, **kwargs):
    out = self._standin_base.forward(self, x, timesteps, context, *args, **kwargs)
    return self._standin_output(out, x, timesteps, context)


def _standin_output(self, out, x, timesteps, context):
    sigma = sigma_of_timestep(torch.as_tensor(timesteps, device=x.device).reshape(-1).expand(x.shape[0]),
                              self._standin_sigmas)
    a = (1 + sigma**2) ** -0.5
    b = sigma * a
    denoised = self._standin_law.posterior_mean(x.float(), a, b, context).to(torch.float64)
    a4, b4, xd = a.view(-1, 1, 1, 1), b.view(-1, 1, 1, 1), x.to(torch.float64)
    law = (xd - a4 * denoised) / b4 if self._standin_parameterization == "eps" else (a4 * xd - denoised) / b4
    return (law + self._standin_mix * out.to(torch.float64)).to(out.dtype)


def standin_unet(base_target: str = "ldm.modules.diffusionmodules.openaimodel.UNetModel", mix: float = 0.05,
                 law_seed: int = 0, parameterization: str = "eps", linear_start: float = LINEAR_START,
                 linear_end: float = LINEAR_END, timesteps: int = TIMESTEPS, **unet_params):
    """An instance of the host's UNet class (``base_target``) whose output is the exact prediction
    of :class:`MixtureLaw` (eps or v, on SD1.x's discrete schedule) plus ``mix`` times its own.

    A ``unet_config`` target for A1111's yaml: the parameters and state-dict keys are the base
    class's, so the checkpoint loads unchanged.
    """
    module, name = base_target.rsplit(".", 1)
    base = getattr(importlib.import_module(module), name)
    cls = type("MomentumStandinUNet", (base,), {"forward": _standin_forward,
                                                "_standin_output": _standin_output})
    unet = cls(**unet_params)
    unet._standin_base = base
    unet._standin_law = MixtureLaw(seed=law_seed)
    unet._standin_sigmas = sd1_sigmas(linear_start, linear_end, timesteps)
    unet._standin_mix = float(mix)
    unet._standin_parameterization = parameterization
    return unet


def comfyui_patch(model, mix: float = 0.05, law_seed: int = 0):
    """A clone of a ComfyUI MODEL (ModelPatcher) whose denoised output is E[x0 | x] under
    :class:`MixtureLaw` plus ``mix`` times the model's own correction, for any model_sampling in effect
    (eps, v-prediction, flow): x = a·x0 + b·n with a, b read from its noise_scaling. Forge's UnetPatcher
    takes it too (its model's ``predictor`` has the same methods)."""
    law = MixtureLaw(seed=law_seed)

    def wrapper(apply_model, args):
        x, sigma, c = args["input"], args["timestep"], args["c"]
        owner = apply_model.__self__
        sampling = owner.model_sampling if hasattr(owner, "model_sampling") else owner.predictor
        sigma4 = sigma.reshape(-1, *([1] * (x.ndim - 1)))
        skip = sampling.calculate_denoised(sigma4, torch.zeros_like(x), x)
        own = apply_model(x, sigma, **c) if mix else skip  # mix 0: the exact law, no UNet evaluation
        zeros, ones = torch.zeros_like(x), torch.ones_like(x)
        a = sampling.noise_scaling(sigma4, zeros, ones)[:, 0, 0, 0]
        b = sampling.noise_scaling(sigma4, ones, zeros)[:, 0, 0, 0]
        denoised = law.posterior_mean(x.float(), a, b, c.get("c_crossattn"))
        return (denoised + mix * (own.float() - skip.float())).to(own.dtype)

    patched = model.clone()
    patched.set_model_unet_function_wrapper(wrapper)
    return patched


# --- building the checkpoints (needs ComfyUI's classes and transformers) --------------------------


def default_init(module: torch.nn.Module) -> torch.nn.Module:
    """Run PyTorch's own reset_parameters on every layer, also where a subclass disabled it."""
    for m in module.modules():
        for cls in type(m).__mro__:
            if cls.__module__.startswith("torch.nn.modules") and "reset_parameters" in cls.__dict__:
                cls.reset_parameters(m)
                break
    return module


def add_text_model_level(keys_to_tensors: dict) -> dict:
    """transformers 5 names CLIPTextModel's weights without the ``text_model.`` level; checkpoints have it."""
    return {k if k.startswith("text_model.") else "text_model." + k: v for k, v in keys_to_tensors.items()}


def checkpoint_keys(unet: dict, vae: dict, clip: dict) -> dict:
    """The original single-file SD1.x layout."""
    out = {"model.diffusion_model." + k: v for k, v in unet.items()}
    out.update({"first_stage_model." + k: v for k, v in vae.items()})
    out.update({"cond_stage_model.transformer." + k: v for k, v in add_text_model_level(clip).items()})
    return out


def small_configs(channels: int = SMALL_CHANNELS) -> tuple[dict, dict, dict]:
    """(ComfyUI UNet config, ldm UNet config, autoencoder ddconfig) with ``channels`` base channels."""
    unet, ldm, vae = copy.deepcopy(SD15_UNET), copy.deepcopy(SD15_UNET_LDM), copy.deepcopy(SD15_VAE)
    unet["model_channels"] = ldm["model_channels"] = channels
    vae["ch"] = channels
    return unet, ldm, vae


def v1_inference_config(unet: dict, vae: dict, unet_target: str = "ldm.modules.diffusionmodules.openaimodel.UNetModel",
                        extra_unet_params: dict | None = None) -> dict:
    """A v1-inference.yaml for the given widths (written as JSON, which YAML reads)."""
    return {"model": {
        "base_learning_rate": 1.0e-04,
        "target": "ldm.models.diffusion.ddpm.LatentDiffusion",
        "params": {
            "linear_start": LINEAR_START, "linear_end": LINEAR_END, "num_timesteps_cond": 1, "log_every_t": 200,
            "timesteps": TIMESTEPS, "first_stage_key": "jpg", "cond_stage_key": "txt", "image_size": 64,
            "channels": 4, "cond_stage_trainable": False, "conditioning_key": "crossattn",
            "monitor": "val/loss_simple_ema", "scale_factor": 0.18215, "use_ema": False,
            "unet_config": {"target": unet_target, "params": {**unet, **(extra_unet_params or {})}},
            "first_stage_config": {"target": "ldm.models.autoencoder.AutoencoderKL", "params": {
                "embed_dim": 4, "monitor": "val/rec_loss", "ddconfig": vae,
                "lossconfig": {"target": "torch.nn.Identity"}}},
            "cond_stage_config": {"target": "ldm.modules.encoders.modules.FrozenCLIPEmbedder"},
        },
    }}


def _comfy(comfyui: Path):
    path = str(comfyui.resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
    from comfy.cli_args import args

    args.cpu = True
    import comfy.ldm.models.autoencoder
    import comfy.ldm.modules.diffusionmodules.openaimodel

    return comfy


def _fp16(module: torch.nn.Module) -> dict:
    return {k: v.detach().to(torch.float16).contiguous() for k, v in module.state_dict().items()}


def build_checkpoint(comfyui: Path, unet_config: dict, vae_config: dict, seed: int) -> dict:
    """Seeded default-initialised UNet, autoencoder and CLIP-L text model, in checkpoint layout, fp16."""
    import transformers

    comfy = _comfy(comfyui)
    torch.manual_seed(seed)
    unet = comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel(**unet_config, device="cpu")
    unet_sd = _fp16(default_init(unet))
    del unet
    torch.manual_seed(seed + 1)
    vae = comfy.ldm.models.autoencoder.AutoencoderKL(ddconfig=vae_config, embed_dim=4)
    vae_sd = _fp16(default_init(vae))
    del vae
    config = transformers.CLIPTextConfig.from_json_file(str(comfyui / "comfy" / "sd1_clip_config.json"))
    clip = clip_text_model(config, seed + 2)
    clip_sd = {k: v for k, v in _fp16(clip).items() if not k.endswith("position_ids")}
    return checkpoint_keys(unet_sd, vae_sd, clip_sd)


def clip_text_model(config, seed: int) -> torch.nn.Module:
    """A seeded random CLIP text model whose final LayerNorm is random too (see :func:`randomize_final_norm`)."""
    import transformers

    torch.manual_seed(seed)
    return randomize_final_norm(transformers.CLIPTextModel(config), seed)


def randomize_final_norm(clip: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give the final LayerNorm a seeded weight around 1 and a bias around 0.5.

    Its default (weight 1, bias 0) leaves every token's output with exactly zero mean over channels.
    A1111's default emphasis ("Original") rescales the embedding by old_mean / new_mean, which is then
    0 / 0: every image, the host's own Euler included, came out NaN. A real CLIP's final bias is not zero.
    """
    norm = getattr(clip, "text_model", clip).final_layer_norm  # transformers 5 drops the text_model level
    g = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        norm.weight.copy_(1.0 + 0.2 * torch.randn(norm.weight.shape, generator=g))
        norm.bias.copy_(0.5 + 0.2 * torch.randn(norm.bias.shape, generator=g))
    return clip


def save(tensors: dict, path: Path, metadata: dict) -> None:
    from safetensors.torch import save_file

    tmp = path.with_suffix(".tmp")
    # one metadata entry: safetensors writes several in hash order, and the file would differ per run
    save_file(tensors, str(tmp), metadata={"made_by": json.dumps(metadata, sort_keys=True)})
    tmp.chmod(0o644)
    tmp.replace(path)


def write_yaml(config: dict, path: Path) -> None:
    path.write_text(json.dumps(config, indent=2) + "\n")


def write_hf_cache(tokenizer_dir: Path, clip_config: Path, hf_home: Path) -> Path:
    """A Hugging Face hub cache entry for openai/clip-vit-large-patch14: tokenizer files and config.json,
    under a snapshot id derived from their content. Returns the snapshot folder."""
    files = {p.name: p.read_bytes() for p in sorted(tokenizer_dir.iterdir()) if p.is_file()}
    tokenizer_config = json.loads(files["tokenizer_config.json"])
    tokenizer_config["model_max_length"] = 77
    files["tokenizer_config.json"] = (json.dumps(tokenizer_config, indent=2) + "\n").encode()
    files["config.json"] = clip_config.read_bytes()
    digest = hashlib.sha1()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + data)
    snapshot_id = digest.hexdigest()
    repo = hf_home / "hub" / CLIP_REPO
    if repo.exists():
        shutil.rmtree(repo)
    snapshot = repo / "snapshots" / snapshot_id
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(snapshot_id)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


def make(out: Path, which: list[str], comfyui: Path, seed: int = 0, mix: float = 0.05) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    meta = {"tool": "tools/make_models.py", "seed": seed, "weights": "random, PyTorch default init"}
    if "sd15" in which:
        path = out / "sd15.safetensors"
        save(build_checkpoint(comfyui, SD15_UNET, SD15_VAE, seed), path, {**meta, "variant": "sd15"})
        written.append(path)
    if "sd15-small" in which or "standin" in which:
        unet, ldm, vae = small_configs()
        path = out / "sd15-small.safetensors"
        if "sd15-small" in which or not path.exists():
            save(build_checkpoint(comfyui, unet, vae, seed), path, {**meta, "variant": "sd15-small"})
            write_yaml(v1_inference_config(ldm, vae), out / "sd15-small.yaml")
            written += [path, out / "sd15-small.yaml"]
        if "standin" in which:
            link = out / "standin.safetensors"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(path.name)
            extra = {"base_target": "ldm.modules.diffusionmodules.openaimodel.UNetModel", "mix": mix,
                     "law_seed": seed, "parameterization": "eps"}
            write_yaml(v1_inference_config(ldm, vae, "ms_standin.standin_unet", extra), out / "standin.yaml")
            shutil.copyfile(__file__, out / "ms_standin.py")
            written += [link, out / "standin.yaml", out / "ms_standin.py"]
    if "hf-cache" in which:
        written.append(write_hf_cache(comfyui / "comfy" / "sd1_tokenizer", comfyui / "comfy" / "sd1_clip_config.json",
                                      out / "hf-home"))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (outside the repository)")
    parser.add_argument("--which", default=",".join(WHICH), help=f"comma-separated subset of {','.join(WHICH)}")
    parser.add_argument("--comfyui", type=Path, default=os.environ.get("COMFYUI_PATH"),
                        help="ComfyUI checkout whose classes and tokenizer files are used (default: $COMFYUI_PATH)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mix", type=float, default=0.05, help="weight of the random UNet in the stand-in")
    args = parser.parse_args(argv)
    which = [w.strip() for w in args.which.split(",") if w.strip()]
    unknown = sorted(set(which) - set(WHICH))
    if unknown:
        parser.error(f"unknown --which {unknown}; choose from {list(WHICH)}")
    if args.comfyui is None or not (args.comfyui / "comfy" / "sd1_clip_config.json").is_file():
        parser.error("--comfyui (or COMFYUI_PATH) must name a ComfyUI checkout")
    torch.set_num_threads(1)  # several threads on a busy machine are many times slower than one
    for path in make(args.out, which, args.comfyui, args.seed, args.mix):
        print(path)
    if "standin" in which:
        print(f"A1111: put {args.out} on PYTHONPATH so standin.yaml's target ms_standin.standin_unet imports")
    if "hf-cache" in which:
        print(f"HF_HOME={args.out / 'hf-home'} HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1")


if __name__ == "__main__":
    main()
