"""Fake of AUTOMATIC1111's ``modules`` package (see ../README.md)."""
