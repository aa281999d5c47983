"""Test fixture for Forge and reForge (installed by the integration tests, never shipped): the
denoising stand-in of ``tools/make_models.py`` on their loaded SD1.x model.

Both build the UNet from their own model detection and read no yaml, so the stand-in cannot come in
through the checkpoint's config as on A1111. Instead this script wraps the UNet call
(``set_model_unet_function_wrapper``, as Forge's own extensions patch the model) before every
sampling: the denoised output is E[x0 | x] of the stand-in's ``MixtureLaw`` for x = x0 + σ·n, the
k-diffusion form their samplers hand the model, given the prompt's text context. The full-size
random UNet is skipped (too slow on a CPU for dozens of images); the rest of the pipeline (text
encoder, CFG, sampler, VAE, infotext) is the host's own.
"""

import ms_standin  # the model folder is on PYTHONPATH
import torch
from modules import scripts

LAW = ms_standin.MixtureLaw(seed=0)


def standin(apply_model, args):
    x, sigma, c = args["input"], args["timestep"], args["c"]
    ones = torch.ones_like(sigma, dtype=torch.float64)
    return LAW.posterior_mean(x.float(), ones, sigma.to(torch.float64), c.get("c_crossattn")).to(x.dtype)


class MomentumStandin(scripts.Script):
    def title(self):
        return "Momentum Samplers test stand-in"

    def show(self, is_img2img):
        return scripts.AlwaysVisible

    def ui(self, is_img2img):
        import gradio as gr

        return [gr.Checkbox(value=True, label="Use the test stand-in")]

    def process_before_every_sampling(self, p, enabled=True, *args, **kwargs):
        if not enabled:  # API: "alwayson_scripts": {"momentum samplers test stand-in": {"args": [false]}}
            return
        unet = p.sd_model.forge_objects.unet.clone()
        unet.set_model_unet_function_wrapper(standin)
        p.sd_model.forge_objects.unet = unet
