"""Momentum Samplers: ComfyUI entry point.

Inside ComfyUI this package registers the samplers in the stock sampler lists and exposes the nodes.
Imported anywhere else (tests, tools) it does nothing and needs no host.
"""
