"""What the learned-bed tests share: scikit-learn ships both beds' data."""

from __future__ import annotations

import os

import pytest


def require_sklearn(what: str) -> None:
    """Skip the module without scikit-learn, except in CI, where a missing scikit-learn fails the run
    instead of quietly skipping a bed."""
    if os.environ.get("CI", "").lower() == "true":
        import sklearn  # noqa: F401
    else:
        pytest.importorskip("sklearn", reason=f"scikit-learn ships {what}: pip install .[test]")
