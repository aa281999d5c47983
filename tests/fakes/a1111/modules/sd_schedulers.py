"""Shaped after A1111 1.10.1 ``modules/sd_schedulers.py``: the scheduler names, with Forge's and
reForge's extra ones, because ``get_sampler_and_scheduler`` strips a trailing scheduler name off a
sampler label."""

import dataclasses

import torch


@dataclasses.dataclass
class Scheduler:
    name: str
    label: str
    function: object = None
    default_rho: float = -1
    need_inner_model: bool = False
    aliases: list = None


_NAMES = [
    ('automatic', 'Automatic'), ('uniform', 'Uniform'), ('karras', 'Karras'), ('exponential', 'Exponential'),
    ('polyexponential', 'Polyexponential'), ('sgm_uniform', 'SGM Uniform'), ('kl_optimal', 'KL Optimal'),
    ('align_your_steps', 'Align Your Steps'), ('simple', 'Simple'), ('normal', 'Normal'), ('ddim', 'DDIM'),
    ('beta', 'Beta'),
    # Forge dfdcbab and reForge 3b56b26 add these
    ('turbo', 'Turbo'), ('align_your_steps_GITS', 'Align Your Steps GITS'), ('align_your_steps_11', 'Align Your Steps 11'),
    ('align_your_steps_32', 'Align Your Steps 32'), ('sinusoidal_sf', 'Sinusoidal SF'),
    ('invcosinusoidal_sf', 'Invcosinusoidal SF'), ('react_cosinusoidal_dynsf', 'React Cosinusoidal DynSF'),
    ('align_your_steps_custom', 'Align Your Steps Custom'), ('cosine', 'Cosine'),
    ('cosine-exponential blend', 'Cosine-exponential Blend'), ('phi', 'Phi'), ('laplace', 'Laplace'),
    ('karras dynamic', 'Karras Dynamic'),
]



def get_sigmas_karras(n, sigma_min, sigma_max, rho=7.0, device='cpu'):
    ramp = torch.linspace(0, 1, n, device=device)
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros([1])])


_FUNCTIONS = {'karras': get_sigmas_karras}  # 'automatic' and 'uniform' have none: model_wrap.get_sigmas
schedulers = [Scheduler(name, label, function=_FUNCTIONS.get(name), default_rho=7.0 if name == 'karras' else -1,
                        aliases=["SGMUniform"] if name == "sgm_uniform" else None) for name, label in _NAMES]
schedulers_map = {**{x.name: x for x in schedulers}, **{x.label: x for x in schedulers}}
