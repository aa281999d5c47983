"""Every sampler parameter is a host setting from script import on: in "Sampler parameters", with the
right widget, an infotext label, settable through the API path, a bad value refused where it is set
and validated again when read."""

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
    opts.set("momentum_ghvb_beta", 0.0, run_callbacks=False)  # as override_settings sets it
    with pytest.raises(ValueError, match="GHVB: beta") as error:
        read_values(SAMPLER_SPECS["ghvb"], opts)
    assert "momentum_ghvb_beta" in str(error.value)
    assert SAMPLER_SPECS["ghvb"].param("beta").range_text() in str(error.value)


def test_unknown_override_key_fails_as_the_host_does(host):
    """Why the options must exist at import: the host's ``opts.set`` raises for an unknown key."""
    with pytest.raises(KeyError):
        host.shared.opts.set("momentum_ghvb_beta", 0.3, is_api=True)


def out_of_range(param):
    """Values ``param.validate`` rejects: past each end of the range, not a number, not finite."""
    candidates = ["abc", float("nan"), float("inf")]
    if param.min is not None:
        candidates += [param.min - 1, param.min - (param.step or 1) / 2]
    if param.max is not None:
        candidates += [param.max + 1]
    bad = []
    for value in candidates:
        try:
            param.validate(value)
        except ValueError:
            bad.append(value)
    return bad


def test_the_api_never_stores_a_bad_value(host):
    """``POST /sdapi/v1/options {"momentum_ghvb_beta": 5}``: the host's ``Options.set`` with callbacks
    (A1111 ``set_config``, Forge ``sysinfo.set_config``): refused, old value kept, message shown."""
    from modules import errors

    host.load_script()
    opts = host.shared.opts
    spec = SAMPLER_SPECS["ghvb"]
    beta = spec.param("beta")
    assert opts.set("momentum_ghvb_beta", 0.3, is_api=True)
    assert not opts.set("momentum_ghvb_beta", 5, is_api=True)
    assert opts.momentum_ghvb_beta == 0.3
    task, error = errors.displayed[-1]
    assert "momentum_ghvb_beta" in task
    message = str(error)
    assert "GHVB: beta" in message and "momentum_ghvb_beta" in message and beta.range_text() in message
    assert not message.endswith("\n")
    # the next generation still works, with the kept value
    p = host.processing.StableDiffusionProcessing(sampler_name=spec.label, steps=4)
    samples, infotext = host.processing.process_images(p)
    assert p.sampler.last_kwargs["beta"] == 0.3 and "ghvb beta: 0.3" in infotext


def test_every_parameter_rejects_what_its_validator_rejects(host, toy_sde):
    host.load_script()
    opts = host.shared.opts
    for spec in [*SAMPLER_SPECS.values()]:
        for param in spec.params:
            key = naming.option_key(spec, param)
            bad = out_of_range(param)
            assert bad or param.kind == "bool", key
            for value in bad:
                assert not opts.set(key, value, is_api=True), (key, value)
                assert opts.data[key] == param.default
            low, high = param.widget_range() if param.step is not None else (param.default, param.default)
            for good in (low, high):  # every value the slider reaches is accepted
                assert opts.set(key, good, is_api=True) or good == param.default, (key, good)
                assert opts.data[key] == good
                opts.set(key, param.default)


def test_a_bad_saved_value_falls_back_to_the_default(a1111, caplog):
    """A config file holding a bad value (written by hand, or before values were checked) does not
    break every later generation."""
    import logging

    a1111.shared.opts.data["momentum_ghvb_beta"] = 5
    a1111.shared.opts.data["momentum_ghvb_order"] = 3
    with caplog.at_level(logging.WARNING, logger="momentum_samplers"):
        a1111.load_script()
    assert a1111.shared.opts.momentum_ghvb_beta == SAMPLER_SPECS["ghvb"].param("beta").default
    assert a1111.shared.opts.momentum_ghvb_order == 3
    assert "momentum_ghvb_beta" in caplog.text
