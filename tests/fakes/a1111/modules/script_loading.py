"""Shaped after A1111 1.10.1 ``modules/script_loading.py``: a script is a loose module named after
its file, not put in ``sys.modules``."""

import importlib.util
import os

loaded_scripts = {}


def load_module(path):
    module_spec = importlib.util.spec_from_file_location(os.path.basename(path), path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)

    loaded_scripts[path] = module
    return module
