"""The ComfyUI adapter (spec/hosts.md §1–3): stock sampler-list entries, SAMPLER nodes and
model-options nodes, all generated from the parameter tables in ``sampling/``.

Modules, from host-free to host-bound:

- :mod:`.naming` — the frozen public names (stock sampler names, node ids, categories, options key).
- :mod:`.schema` — host-free node descriptions built from ``sampling.SAMPLER_SPECS`` (and the
  committed snapshot's source of truth).
- :mod:`.host` — the sampler function ComfyUI calls: model-family detection, model-options merge.
- :mod:`.registration` — in-place registration in ComfyUI's stock sampler lists.
- :mod:`.v3` — V3 (``comfy_api.latest``) node classes and the extension.

Only :mod:`.host`, :mod:`.registration` and :mod:`.v3` touch ComfyUI, and only inside functions,
so every module here imports without a host.
"""
