"""Every sampler parameter is a host setting from script import on (spec/hosts.md §7 "Sampler
parameters, settings and infotext"): in "Sampler parameters", with the right widget, an infotext
label, settable through the API path, validated when read."""

from __future__ import annotations

import pytest

from momentum_samplers.a1111 import naming
from momentum_samplers.a1111.settings import read_values, register_settings
from momentum_samplers.sampling import SAMPLER_SPECS


def test_every_parameter_is_an_option_at_import(host):
    host.load_script()
    labels = host.shared.opts.data_labels
    for spec in SAMPLER_SPECS.values():
        for param in spec.params:
            info = labels[naming.option_key(spec, param)]
            assert info.default == param.default
            assert info.label == naming.setting_label(spec, param)
            assert info.section == ("sampler-params", "Sampler parameters")
            assert info.category_id == "sd"
            assert info.infotext == naming.infotext_label(spec, param)
            assert param.range_text() in info.comment_after
            assert getattr(host.shared.opts, naming.option_key(spec, param)) == param.default
    # registered without any UI callback: with --nowebui on_ui_settings never runs
    assert host.script_callbacks.callback_map["callbacks_ui_settings"] == []


def test_widgets_follow_the_parameter_kind(host, toy_sde):
    import gradio as gr

    host.load_script()
    labels = host.shared.opts.data_labels
    beta = labels["momentum_ghvb_beta"]
    assert beta.component is gr.Slider
    assert beta.component_args == {"minimum": 0.01, "maximum": 1.0, "step": 0.01}  # β ∈ (0, 1]
    order = labels["momentum_ghvb_order"]
    assert (order.component, order.component_args) == (gr.Slider, {"minimum": 1, "maximum": 4, "step": 1})
    assert labels["momentum_toy_sde_renoise"].component is gr.Checkbox
    mode = labels["momentum_toy_sde_mode"]
    assert (mode.component, mode.component_args) == (gr.Radio, {"choices": ["plain", "damped"]})


def test_api_sets_and_reload_keeps_the_value(host):
    host.load_script()
    opts = host.shared.opts
    assert opts.set("momentum_ghvb_beta", 0.3, is_api=True)  # POST /sdapi/v1/options, override_settings
    register_settings()  # a script reload adds the options again
    assert opts.momentum_ghvb_beta == 0.3
    assert read_values(SAMPLER_SPECS["ghvb"], opts) == {"order": SAMPLER_SPECS["ghvb"].param("order").default, "beta": 0.3}


def test_slider_floats_become_ints_and_bad_values_name_the_setting(host):
    host.load_script()
    opts = host.shared.opts
    opts.set("momentum_ghvb_order", 3.0)  # a Gradio slider hands back a float
    assert read_values(SAMPLER_SPECS["ghvb"], opts)["order"] == 3
    opts.set("momentum_ghvb_beta", 0.0)
    with pytest.raises(ValueError, match=r"GHVB: beta.*momentum_ghvb_beta.*\(0, 1\]"):
        read_values(SAMPLER_SPECS["ghvb"], opts)


def test_unknown_override_key_fails_as_the_host_does(host):
    """Why the options must exist at import: the host's ``opts.set`` raises for an unknown key."""
    with pytest.raises(KeyError):
        host.shared.opts.set("momentum_ghvb_beta", 0.3, is_api=True)
