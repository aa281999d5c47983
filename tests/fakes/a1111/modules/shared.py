"""Shaped after A1111 1.10.1 ``modules/shared.py`` + the "Sampler parameters" part of
``modules/shared_options.py``. ``FLAVOR`` ("a1111" or "forge") is the fixture's switch."""

import gradio as gr

from modules import options
from modules.options import OptionInfo, options_section

FLAVOR = "a1111"
device = "cpu"
sd_model = None

options_templates = {}
options_templates.update(options_section(('sampler-params', "Sampler parameters", "sd"), {
    "hide_samplers": OptionInfo([], "Hide samplers in user interface", gr.CheckboxGroup),
    "eta_ancestral": OptionInfo(1.0, "Eta for k-diffusion samplers", gr.Slider,
                                {"minimum": 0.0, "maximum": 1.0, "step": 0.01}, infotext='Eta'),
    's_noise': OptionInfo(1.0, "sigma noise", gr.Slider, {"minimum": 0.0, "maximum": 1.1, "step": 0.001},
                          infotext='Sigma noise'),
    'eta_noise_seed_delta': OptionInfo(0, "Eta noise seed delta", gr.Number, {"precision": 0}, infotext='ENSD'),
    'no_dpmpp_sde_batch_determinism': OptionInfo(False, "Do not make DPM++ SDE deterministic across different batch sizes."),
}))

opts = options.Options(options_templates, [])
