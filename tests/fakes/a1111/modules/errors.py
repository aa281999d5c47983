"""Shaped after A1111 1.10.1 ``modules/errors.py``: ``display`` prints an exception with its task;
``displayed`` keeps them so a test can read what the console would show."""

import sys

displayed = []


def display(e, task, *, full_traceback=False):
    displayed.append((task, e))
    print(f"{task or 'error'}: {type(e).__name__}: {e}", file=sys.stderr)
