"""Fake ``comfy.k_diffusion.sampling``: a module of ``sample_<name>`` functions looked up by name.

ComfyUI's module is its own copy of k-diffusion's samplers; the fake hands out the real k-diffusion's
(the tests' oracle, the reference our β = 1 / order 1 samplers reduce to).
"""

from momentum_samplers.testbed.kdiffusion import load_k_diffusion_sampling

_k_diffusion = load_k_diffusion_sampling()
sample_euler = _k_diffusion.sample_euler
sample_dpmpp_2m = _k_diffusion.sample_dpmpp_2m
