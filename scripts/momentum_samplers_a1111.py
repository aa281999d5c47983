"""Momentum Samplers: AUTOMATIC1111 / Forge / reForge entry point.

The host loads this file as a loose module with the extension folder on ``sys.path``. It loads that
folder as the package ``momentum_samplers`` (without the ComfyUI entry point, and so that no generic
name such as ``sampling`` enters ``sys.modules``), then registers the samplers and their settings.
"""

import importlib
import runpy
from pathlib import Path

runpy.run_path(str(Path(__file__).resolve().parent.parent / "_package.py"))["load_package"]()
registered = importlib.import_module("momentum_samplers.a1111").install()
