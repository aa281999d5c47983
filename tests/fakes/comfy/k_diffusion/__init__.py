"""Fake ``comfy.k_diffusion`` (tests only)."""
