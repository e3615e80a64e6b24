"""The optional C accelerator (:mod:`pytest_glleak._speedups`), or None.

Built from ``_speedups.c`` when the wheel or editable install is made with a C compiler; without one (or
with ``PYTEST_GLLEAK_PURE_PYTHON=1`` in the environment) every hot path runs its pure-Python version, with
the same records. No pytest imports.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["PURE_PYTHON_VARIABLE", "native", "why_pure"]

#: Set to a non-empty value other than ``0``: the C accelerator is not used even where it is built.
PURE_PYTHON_VARIABLE = "PYTEST_GLLEAK_PURE_PYTHON"


def _load() -> tuple[ModuleType | None, str]:
    if os.environ.get(PURE_PYTHON_VARIABLE, "") not in ("", "0"):
        return None, f"{PURE_PYTHON_VARIABLE} is set"
    try:
        module = importlib.import_module("pytest_glleak._speedups")
    except ImportError as exc:
        return None, f"not built ({exc})"
    return module, ""


native, why_pure = _load()
