"""Shaped after A1111 1.10.1 ``modules/sd_samplers_kdiffusion.py`` (and Forge's, whose denoiser is
``ForgeScheduleLinker(predictor)``): the built-in list, ``KDiffusionSampler`` and its ``sample``."""

import inspect
from types import SimpleNamespace

import torch

from modules import sd_samplers_common, sd_schedulers, shared


def sample_euler(model, x, sigmas, extra_args=None, callback=None, disable=None):
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in, **extra_args)
        if callback is not None:
            callback({'x': x, 'i': i, 'sigma': sigmas[i], 'sigma_hat': sigmas[i], 'denoised': denoised})
        x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
    return x


k_diffusion_sampling = SimpleNamespace(sample_euler=sample_euler, sample_lms=sample_euler, sample_dpmpp_2m=sample_euler)

samplers_k_diffusion = [
    ('DPM++ 2M', 'sample_dpmpp_2m', ['k_dpmpp_2m'], {'scheduler': 'karras'}),
    ('Euler', 'sample_euler', ['k_euler'], {}),
    ('LMS', 'sample_lms', ['k_lms'], {}),
]

samplers_data_k_diffusion = [
    sd_samplers_common.SamplerData(label, lambda model, funcname=funcname: KDiffusionSampler(funcname, model), aliases, options)
    for label, funcname, aliases, options in samplers_k_diffusion
]

sampler_extra_params = {'sample_euler': ['s_churn', 's_tmin', 's_tmax', 's_noise']}


class ScheduleWrap:
    """What ``model_wrap`` offers samplers here: ``sigmas`` and ``get_sigmas(n)``; ``predictor`` on Forge."""

    def __init__(self, sigma_max, predictor=None):
        self.sigmas = torch.linspace(0.03 if sigma_max > 1 else 0.001, sigma_max, 1000)
        if predictor is not None:
            self.predictor = predictor

    def get_sigmas(self, n):
        return torch.cat([torch.linspace(float(self.sigmas[-1]), float(self.sigmas[0]), n), torch.zeros(1)])


class CFGDenoiserKDiffusion:
    """The host's CFG denoiser: ``model(x, sigma, cond=, image_cond=, uncond=, cond_scale=, s_min_uncond=)``."""

    def __init__(self, sampler):
        self.sampler = sampler
        self.model_wrap = None
        self.calls = 0

    @property
    def inner_model(self):
        if self.model_wrap is None:
            model = shared.sd_model
            if shared.FLAVOR == "forge":
                predictor = model.forge_objects.unet.model.predictor
                sigma_max = 1.0 if predictor.prediction_type == "const" else 14.6
                self.model_wrap = ScheduleWrap(sigma_max, predictor)
            else:
                self.model_wrap = ScheduleWrap(1.0 if hasattr(model, "add_noise_to_latent") else 14.6)
        return self.model_wrap

    def __call__(self, x, sigma, cond, image_cond, uncond, cond_scale, s_min_uncond):
        self.calls += 1
        return shared.sd_model.denoise(x, sigma)


class KDiffusionSampler(sd_samplers_common.Sampler):
    def __init__(self, funcname, sd_model, options=None):
        super().__init__(funcname)
        self.extra_params = sampler_extra_params.get(funcname, [])
        self.options = options or {}
        self.func = funcname if callable(funcname) else getattr(k_diffusion_sampling, self.funcname)
        self.model_wrap_cfg = CFGDenoiserKDiffusion(self)
        self.model_wrap = self.model_wrap_cfg.inner_model

    def get_sigmas(self, p, steps):
        scheduler_name = p.scheduler or 'Automatic'
        if scheduler_name == 'Automatic':
            scheduler_name = self.config.options.get('scheduler', None)
        scheduler = sd_schedulers.schedulers_map.get(scheduler_name)
        if p.sampler_noise_scheduler_override:
            return p.sampler_noise_scheduler_override(steps)
        if scheduler is None or scheduler.function is None:
            return self.model_wrap.get_sigmas(steps)
        if scheduler.label != 'Automatic':
            p.extra_generation_params["Schedule type"] = scheduler.label
        sigma_min, sigma_max = self.model_wrap.sigmas[0].item(), self.model_wrap.sigmas[-1].item()
        return scheduler.function(n=steps, sigma_min=sigma_min, sigma_max=sigma_max, device='cpu')

    def sample(self, p, x, conditioning, unconditional_conditioning, steps=None, image_conditioning=None):
        steps = steps or p.steps
        sigmas = self.get_sigmas(p, steps)
        x = x * sigmas[0]

        extra_params_kwargs = self.initialize(p)
        parameters = inspect.signature(self.func).parameters

        if 'n' in parameters:
            extra_params_kwargs['n'] = steps
        if 'sigma_min' in parameters:
            extra_params_kwargs['sigma_min'] = self.model_wrap.sigmas[0].item()
            extra_params_kwargs['sigma_max'] = self.model_wrap.sigmas[-1].item()
        if 'sigmas' in parameters:
            extra_params_kwargs['sigmas'] = sigmas
        if self.config.options.get('brownian_noise', False):
            noise_sampler = self.create_noise_sampler(x, sigmas, p)
            extra_params_kwargs['noise_sampler'] = noise_sampler
        if self.config.options.get('solver_type', None) == 'heun':
            extra_params_kwargs['solver_type'] = 'heun'

        self.last_latent = x
        self.sampler_extra_args = {
            'cond': conditioning,
            'image_cond': image_conditioning,
            'uncond': unconditional_conditioning,
            'cond_scale': p.cfg_scale,
            's_min_uncond': self.s_min_uncond
        }
        self.last_kwargs = extra_params_kwargs
        return self.launch_sampling(steps, lambda: self.func(self.model_wrap_cfg, x, extra_args=self.sampler_extra_args, disable=True, callback=self.callback_state, **extra_params_kwargs))
