"""Stock-list registration against a fake ComfyUI (docs/hosts.md#stock-sampler-lists): in place, idempotent,
no reload / rebinding / reordering, warn-and-skip on a clash; and the root entry point."""

from __future__ import annotations

import asyncio
import logging
import runpy
import sys
from pathlib import Path

from momentum_samplers.nodes import naming
from momentum_samplers.nodes.registration import register_stock_samplers
from momentum_samplers.sampling import SAMPLER_SPECS

ROOT = Path(__file__).resolve().parents[2]
OUR_NAMES = [naming.stock_name(name) for name in SAMPLER_SPECS]


def test_names_are_appended_in_place_at_the_end(fake_comfy):
    samplers, k_sampling = fake_comfy.samplers, fake_comfy.k_sampling
    the_list = samplers.KSampler.SAMPLERS
    assert the_list is samplers.SAMPLER_NAMES
    before = list(the_list)
    euler = k_sampling.sample_euler

    report = register_stock_samplers()

    assert samplers.KSampler.SAMPLERS is the_list and samplers.SAMPLER_NAMES is the_list  # no rebinding
    assert the_list == before + OUR_NAMES  # appended, nothing reordered or removed
    assert report.added == OUR_NAMES and not report.skipped
    assert k_sampling.sample_euler is euler  # no reload
    for spec in SAMPLER_SPECS.values():
        fn = getattr(k_sampling, "sample_" + naming.stock_name(spec.name))
        assert getattr(fn, naming.MARKER_ATTR) == spec.name
        # what the stock KSampler resolves the name to
        assert samplers.ksampler(naming.stock_name(spec.name)).sampler_function is fn


def test_registration_is_idempotent(fake_comfy):
    register_stock_samplers()
    the_list = fake_comfy.samplers.KSampler.SAMPLERS
    after_first = list(the_list)
    functions = {n: getattr(fake_comfy.k_sampling, "sample_" + n) for n in OUR_NAMES}

    report = register_stock_samplers()

    assert the_list == after_first
    assert report.added == [] and report.already == OUR_NAMES
    assert all(getattr(fake_comfy.k_sampling, "sample_" + n) is fn for n, fn in functions.items())


def test_clash_with_another_pack_warns_and_skips(fake_comfy, caplog):
    def foreign(model, x, sigmas, extra_args=None, callback=None, disable=None):
        return x

    clashing = OUR_NAMES[0]
    fake_comfy.k_sampling.__dict__["sample_" + clashing] = foreign
    listed_only = OUR_NAMES[1]
    fake_comfy.samplers.KSampler.SAMPLERS.append(listed_only)  # another pack listed the name
    before = list(fake_comfy.samplers.KSampler.SAMPLERS)

    with caplog.at_level(logging.WARNING):
        report = register_stock_samplers()

    assert getattr(fake_comfy.k_sampling, "sample_" + clashing) is foreign  # not clobbered
    assert report.skipped == [clashing, listed_only]
    assert not hasattr(fake_comfy.k_sampling, "sample_" + listed_only)
    assert fake_comfy.samplers.KSampler.SAMPLERS == before + OUR_NAMES[2:]
    assert clashing in caplog.text and listed_only in caplog.text


def test_a_rebound_list_of_another_pack_gets_the_names_too(fake_comfy):
    samplers = fake_comfy.samplers
    samplers.SAMPLER_NAMES = list(samplers.SAMPLER_NAMES)  # what a misbehaving pack does
    register_stock_samplers()
    assert samplers.KSampler.SAMPLERS[-len(OUR_NAMES):] == OUR_NAMES
    assert samplers.SAMPLER_NAMES[-len(OUR_NAMES):] == OUR_NAMES


def _load_entry(name: str):
    load_package = runpy.run_path(str(ROOT / "_package.py"))["load_package"]
    return load_package(name=name, run_init=True)


def _unload(name: str) -> None:
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def test_entry_point_outside_comfyui_does_nothing():
    name = "ms_entry_test_no_host"
    before = set(sys.modules)
    try:
        package = _load_entry(name)
        added = set(sys.modules) - before
        assert all(k == name or k.startswith(name + ".") for k in added), sorted(added)
        assert not any(k in sys.modules for k in ("comfy", "nodes", "sampling"))
        assert not hasattr(package, "NODE_CLASS_MAPPINGS")  # would shadow comfy_entrypoint
        assert callable(package.comfy_entrypoint)
    finally:
        _unload(name)


def test_entry_point_inside_comfyui_registers_and_lists_the_nodes(fake_comfy):
    name = "ms_entry_test_fake_host"
    try:
        package = _load_entry(name)
        assert fake_comfy.samplers.KSampler.SAMPLERS[-len(OUR_NAMES):] == OUR_NAMES
        assert not hasattr(package, "NODE_CLASS_MAPPINGS")
        extension = asyncio.run(package.comfy_entrypoint())
        assert isinstance(extension, fake_comfy.api.ComfyExtension)
        classes = asyncio.run(extension.get_node_list())
        ids = [cls.define_schema().node_id for cls in classes]
        expected = []
        for sampler in SAMPLER_SPECS:
            expected += [naming.sampler_node_id(sampler), naming.options_node_id(sampler)]
        assert ids == expected
        assert all(issubclass(cls, fake_comfy.io.ComfyNode) for cls in classes)
    finally:
        _unload(name)
