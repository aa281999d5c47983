"""Under "Schedule type: Automatic" (the host's default) our samplers run on the schedule their
defaults were tuned on, through the host's own ``SamplerData.options["scheduler"]``, exactly as the
host's DPM++ 2M gets Karras; an explicit schedule still wins, and the infotext round-trips."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from momentum_samplers.a1111 import naming
from momentum_samplers.sampling import SAMPLER_SPECS
from momentum_samplers.sampling.params import SamplerSpec


def run(host, label, **kwargs):
    p = host.processing.StableDiffusionProcessing(sampler_name=label, steps=kwargs.pop("steps", 6), **kwargs)
    samples, infotext = host.processing.process_images(p)
    return p, samples, infotext


def test_every_entry_names_a_schedule_the_host_has(host):
    host.load_script()
    for spec in SAMPLER_SPECS.values():
        schedule = naming.default_schedule(spec)
        assert schedule is not None
        assert host.sd_samplers.all_samplers_map[spec.label].options["scheduler"] == schedule
        assert host.sd_schedulers.schedulers_map[schedule].name == schedule


@pytest.mark.parametrize("name", list(SAMPLER_SPECS))
def test_automatic_gives_the_tuned_schedule_like_the_hosts_dpmpp_2m(host, name):
    spec = SAMPLER_SPECS[name]
    host.load_script()
    stock, _, _ = run(host, "DPM++ 2M")  # the host's own entry, options {'scheduler': 'karras'}
    ours, _, infotext = run(host, spec.label)
    uniform, _, _ = run(host, spec.label, scheduler="Uniform")
    sigmas = ours.sampler.get_sigmas(ours, ours.steps)
    assert naming.default_schedule(spec) == stock.sampler.config.options["scheduler"]
    assert torch.equal(sigmas, stock.sampler.get_sigmas(stock, stock.steps))
    assert not torch.allclose(sigmas, uniform.sampler.get_sigmas(uniform, uniform.steps))
    assert "Schedule type: Karras" in infotext


def test_the_infotext_schedule_pastes_back_as_automatic(a1111):
    a1111.load_script()
    _, samples, infotext = run(a1111, "DPM++ 2M HB")
    params = a1111.infotext_utils.parse_generation_parameters(infotext)
    sampler, scheduler = a1111.sd_samplers.get_sampler_and_scheduler(params["Sampler"], params["Schedule type"])
    assert (sampler, scheduler) == ("DPM++ 2M HB", "Automatic")
    _, again, _ = run(a1111, sampler, scheduler=scheduler)
    assert torch.equal(samples, again)
    # a schedule other than the tuned one stays explicit
    assert a1111.sd_samplers.get_sampler_and_scheduler("DPM++ 2M HB", "Uniform") == ("DPM++ 2M HB", "Uniform")


@dataclasses.dataclass(frozen=True)
class ScheduledSpec(SamplerSpec):
    default_schedule: str | None = None


def test_a_spec_may_name_its_own_schedule_or_none():
    base = SAMPLER_SPECS["ghvb"]
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(SamplerSpec)}
    assert naming.sampler_options(ScheduledSpec(**fields, default_schedule="exponential"))["scheduler"] == "exponential"
    assert "scheduler" not in naming.sampler_options(ScheduledSpec(**fields, default_schedule=None))
