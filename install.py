"""Installer hook: the pack needs nothing beyond what the host already has.

AUTOMATIC1111 runs ``python install.py`` at every start; ComfyUI-Manager runs it too. Outside A1111
(no ``launch`` module) it exits at once; inside, there is nothing to install either.
"""

import sys

try:
    import launch  # noqa: F401  (A1111 runs this file with its own folder on PYTHONPATH)
except ImportError:
    sys.exit(0)
