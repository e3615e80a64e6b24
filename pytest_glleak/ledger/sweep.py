"""The driver sweep: objects alive in the current context that no hook recorded.

Objects created by C extensions (moderngl, Qt) or plain ctypes never pass through PyOpenGL. A sweep
probes glIs* over the low names of each kind; two sweeps, at test start and end, show what appeared
in between. No pytest imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pytest_glleak import sites
from pytest_glleak.ledger import registry
from pytest_glleak.ledger.gl_functions import is_function
from pytest_glleak.ledger.records import LIVE, SHARED, LiveObject

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger

__all__ = ["driver_sweep", "outside_since"]


def driver_sweep(
    ledger: Ledger, kinds: Iterable[str] | None = None, margin: int = 64
) -> frozenset[tuple[str, int]]:
    """Names the driver reports alive in the current context that the ledger does not know.

    Probes glIs* on 1 .. (highest name the ledger saw for the kind + ``margin``).
    """
    entry = ledger._entry()
    live = ledger._live
    found: set[tuple[str, int]] = set()
    wanted = [kind for kind in (kinds or registry.KINDS) if kind not in ("sync",)]
    highest: dict[str, int] = {}
    for record in live.values():
        if record.name > highest.get(record.kind, 0) and record.kind != "sync":
            highest[record.kind] = record.name
    with ledger.suspended():
        for kind in wanted:
            query = is_function(kind)
            if query is None:
                continue
            for name in range(1, highest.get(kind, 0) + margin + 1):
                try:
                    alive = bool(query(name))
                except Exception:
                    break
                if alive and ledger._key(kind, name, entry) not in live:
                    found.add((kind, name))
    return frozenset(found)


def outside_since(
    ledger: Ledger, before: frozenset[tuple[str, int]], kinds: Iterable[str] | None = None
) -> list[LiveObject]:
    """Objects the driver knows now but neither the ledger nor the sweep ``before`` did."""
    entry = ledger._entry()
    after = driver_sweep(ledger, kinds)
    records: list[LiveObject] = []
    for kind, name in sorted(after - before):
        context = entry.group if kind in SHARED else entry.handle
        record = LiveObject(
            ledger._key(kind, name, entry),
            kind,
            context,
            ledger._seq,
            ledger.test,
            ledger.phase,
            "outside",
            sites.EMPTY_SITE,
            LIVE,
            ledger.test_thread,
        )
        record.label = "created outside PyOpenGL"
        records.append(record)
    return records
