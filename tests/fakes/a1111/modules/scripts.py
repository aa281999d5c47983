"""Shaped after A1111 1.10.1 ``modules/scripts.py``: ``Script`` and ``load_scripts``, which runs each
extension script with the extension folder prefixed to ``sys.path`` and clears the callbacks first."""

import inspect
import sys

from modules import script_callbacks, script_loading

AlwaysVisible = object()
scripts_data = []


class Script:
    name = None
    section = None
    filename = None
    alwayson = False
    is_txt2img = False
    is_img2img = False

    def title(self):
        raise NotImplementedError()

    def show(self, is_img2img):
        return True


def load_scripts(script_files):
    """``script_files``: (path, extension folder) pairs, in load order. Errors propagate (the real
    host reports and goes on)."""
    scripts_data.clear()
    script_callbacks.clear_callbacks()
    syspath = sys.path
    modules = []
    for path, basedir in script_files:
        try:
            sys.path = [str(basedir)] + sys.path
            module = script_loading.load_module(str(path))
            for value in module.__dict__.values():
                if inspect.isclass(value) and issubclass(value, Script) and value is not Script:
                    scripts_data.append((value, str(path), str(basedir), module))
            modules.append(module)
        finally:
            sys.path = syspath
    return modules
