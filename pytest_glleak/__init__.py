"""pytest-glleak: leaked OpenGL objects and decoded image buffers fail tests.

The plugin is used through its fixtures, markers and options (see the README). This module names the
types a test or a conftest may touch, for annotations and ``isinstance`` checks:

- :class:`GLContext`: the value of ``gl_context`` and of ``gl_context_factory(...)``;
  :class:`ContextUnavailable`: raised when no context can be made;
  :class:`GLContextRecreatedWarning`: foreign code broke the session context between tests;
  :class:`UnhookedGLWarning`: a marked test made GL objects through a binding the plugin does not hook.
- :class:`LedgerView`: the value of ``gl_ledger``; :class:`LiveObject`: one record it lists.
- :class:`MemoryBaseline`: the value of ``memory_baseline``; :class:`MeasureResult`: what its
  ``measure()`` returns; :class:`MemoryGrowthError`: what ``measure(fn, limit=...)`` raises when memory
  grew (an ``AssertionError`` whose text says where).
- :class:`TestFindings` (with :class:`LeakedGLObject`, :class:`LeakedImage`, :data:`Verdict`): the plain
  data attached to a checked test's teardown report as ``report.glleak``.

Names are imported on first use, so importing this package loads neither OpenGL nor NumPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_glleak.lazy import lazy_attributes

__version__ = "0.1.0"

__all__ = [
    "ContextUnavailable",
    "GLContext",
    "GLContextRecreatedWarning",
    "LeakedGLObject",
    "LeakedImage",
    "LedgerView",
    "LiveObject",
    "MeasureResult",
    "MemoryBaseline",
    "MemoryGrowthError",
    "TestFindings",
    "UnhookedGLWarning",
    "Verdict",
    "__version__",
]

_WHERE = {
    "ContextUnavailable": "pytest_glleak.gl",
    "GLContext": "pytest_glleak.gl",
    "GLContextRecreatedWarning": "pytest_glleak.plugin",
    "LeakedGLObject": "pytest_glleak.findings",
    "LeakedImage": "pytest_glleak.findings",
    "LedgerView": "pytest_glleak.ledger",
    "LiveObject": "pytest_glleak.ledger",
    "MeasureResult": "pytest_glleak.heap",
    "MemoryBaseline": "pytest_glleak.heap",
    "MemoryGrowthError": "pytest_glleak.heap.diagnose",
    "TestFindings": "pytest_glleak.findings",
    "UnhookedGLWarning": "pytest_glleak.runner",
    "Verdict": "pytest_glleak.findings",
}

if TYPE_CHECKING:
    from pytest_glleak.findings import LeakedGLObject, LeakedImage, TestFindings, Verdict
    from pytest_glleak.gl import ContextUnavailable, GLContext
    from pytest_glleak.heap import MeasureResult, MemoryBaseline
    from pytest_glleak.heap.diagnose import MemoryGrowthError
    from pytest_glleak.ledger import LedgerView, LiveObject
    from pytest_glleak.plugin import GLContextRecreatedWarning
    from pytest_glleak.runner import UnhookedGLWarning


__getattr__ = lazy_attributes(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted(__all__)
