"""Fake ``comfy_api`` (tests only)."""
