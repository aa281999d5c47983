"""Fake ``comfy.samplers``: the stock name lists, ``KSAMPLER`` and ``ksampler`` as in ComfyUI 0.8."""

import comfy.k_diffusion.sampling as k_diffusion_sampling

KSAMPLER_NAMES = ["euler", "euler_ancestral", "heun", "lms", "dpmpp_2m", "dpmpp_2m_sde"]
SAMPLER_NAMES = KSAMPLER_NAMES + ["ddim", "uni_pc", "uni_pc_bh2"]


class Sampler:
    pass


class KSAMPLER(Sampler):
    def __init__(self, sampler_function, extra_options={}, inpaint_options={}):  # noqa: B006 (as in ComfyUI)
        self.sampler_function = sampler_function
        self.extra_options = extra_options
        self.inpaint_options = inpaint_options

    def sample(self, model_k, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False):
        """The call the real KSAMPLER makes, without noise scaling and inpaint wrapping."""
        extra_args["denoise_mask"] = denoise_mask
        return self.sampler_function(model_k, noise, sigmas, extra_args=extra_args, callback=callback,
                                     disable=disable_pbar, **self.extra_options)


def ksampler(sampler_name, extra_options={}, inpaint_options={}):  # noqa: B006 (as in ComfyUI)
    sampler_function = getattr(k_diffusion_sampling, f"sample_{sampler_name}")
    return KSAMPLER(sampler_function, extra_options, inpaint_options)


class KSampler:
    SCHEDULERS = ["simple", "karras"]
    SAMPLERS = SAMPLER_NAMES
