"""Load this folder as the uniquely named package ``momentum_samplers``.

ComfyUI imports the folder as a package itself. Everything else (the A1111 script, the tests, the
command-line tools) calls :func:`load_package`, so that no generic top-level name such as
``sampling`` or ``nodes`` ever enters ``sys.modules``. Loaded by path, e.g.
``runpy.run_path(ROOT / "_package.py")["load_package"]()``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from pathlib import Path

PACKAGE_NAME = "momentum_samplers"
ROOT = Path(__file__).resolve().parent


def load_package(name: str = PACKAGE_NAME, run_init: bool = False) -> types.ModuleType:
    """Return the package ``name`` for this folder, creating it on first use.

    With ``run_init=False`` the folder's ``__init__.py`` (the ComfyUI entry point) is not executed:
    the package is an empty shell whose subpackages (``.sampling``, ``.testbed``, …) import normally.
    """
    existing = sys.modules.get(name)
    if existing is not None:
        return existing
    if run_init:
        spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
    module = types.ModuleType(name, "Momentum Samplers (loaded without its host entry point)")
    module.__path__ = [str(ROOT)]
    module.__file__ = str(ROOT / "__init__.py")
    module.__package__ = name
    sys.modules[name] = module
    return module


if __name__ == "__main__":  # pragma: no cover
    print(load_package())
