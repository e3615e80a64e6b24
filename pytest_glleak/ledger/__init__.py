"""The GL object ledger: every GL object created through PyOpenGL, where it was made, and whether it lives.

No pytest imports in this package. Modules, one job each:

- :mod:`~pytest_glleak.ledger.core`: the :class:`Ledger` (install, recording, marks, findings).
- :mod:`~pytest_glleak.ledger.queries`: the :class:`Ledger`'s queries since a mark.
- :mod:`~pytest_glleak.ledger.threads`: who owns the objects other threads make.
- :mod:`~pytest_glleak.ledger.view`: :class:`LedgerView`, the per-test view behind ``gl_ledger``.
- :mod:`~pytest_glleak.ledger.records`: :class:`LiveObject`, record states and the key layout.
- :mod:`~pytest_glleak.ledger.contexts`: contexts and share groups, and the ledger's context API.
- :mod:`~pytest_glleak.ledger.handlers`: the recording handlers built from the registry.
- :mod:`~pytest_glleak.ledger.intercept`: the hooks on PyOpenGL's raw functions.
- :mod:`~pytest_glleak.ledger.glfw_hooks`: glfw window create/destroy/terminate hooks.
- :mod:`~pytest_glleak.ledger.args`: GL call arguments as ints, storage sizes in bytes.
- :mod:`~pytest_glleak.ledger.gl_functions`: the raw GL functions the ledger calls itself.
- :mod:`~pytest_glleak.ledger.confirm`: glIs* confirmation and cleanup deletes.
- :mod:`~pytest_glleak.ledger.sweep`: the driver sweep for objects no hook saw.
- :mod:`~pytest_glleak.ledger.registry`: tables generated from the Khronos registry (gl.xml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_glleak.lazy import lazy_attributes

__all__ = ["Ledger", "LedgerView", "LiveObject"]

# Imported on first use, so that the data model can read the generated registry without loading the
# ledger itself (findings -> ledger.registry must not pull in core -> sites -> findings).
_WHERE = {
    "Ledger": "pytest_glleak.ledger.core",
    "LedgerView": "pytest_glleak.ledger.view",
    "LiveObject": "pytest_glleak.ledger.records",
}

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger
    from pytest_glleak.ledger.records import LiveObject
    from pytest_glleak.ledger.view import LedgerView


__getattr__ = lazy_attributes(__name__, _WHERE)
