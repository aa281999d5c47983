"""Fake ``comfy`` package (tests only): see tests/fakes/README.md."""
