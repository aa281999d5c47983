"""The ComfyUI adapter (docs/hosts.md#comfyui): stock sampler-list entries, SAMPLER nodes and
model-options nodes, all generated from the parameter tables in ``sampling/``.

- :mod:`.naming` — the frozen public names (stock sampler names, node ids, categories, options key).
- :mod:`.schema` — host-free node descriptions built from ``sampling.SAMPLER_SPECS`` (ids, texts,
  inputs in their frozen order), which :mod:`.v3` and the help pages read.
- :mod:`.host` — the function ComfyUI calls: stored options, model family, then the sampler.
- :mod:`.registration` — in-place registration in ComfyUI's stock sampler lists.
- :mod:`.v3` — the V3 (``comfy_api.latest``) node classes and the extension.

ComfyUI is imported inside functions only, so every module here imports without a host.
"""
