"""The per-test view of the ledger behind the ``gl_ledger`` fixture. No pytest imports."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pytest_glleak.report.gl_text import format_gl_leaks

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger
    from pytest_glleak.ledger.records import LiveObject

__all__ = ["LedgerView"]


class LedgerView:
    """The per-test view behind the ``gl_ledger`` fixture: counts and live objects since the test began."""

    def __init__(self, ledger: Ledger, start_mark: int) -> None:
        self.ledger = ledger
        self.start_mark = start_mark

    def live(self, kind: str | None = None) -> list[LiveObject]:
        """Objects created during this test and alive now (any owner), oldest first."""
        return self.ledger.created_after(self.start_mark, kind)

    def created(self, kind: str | None = None) -> int:
        """How many objects (of ``kind``) were created during this test."""
        counts = self.ledger.created_since(self.start_mark)
        return sum(counts.values()) if kind is None else counts.get(kind, 0)

    def deleted(self, kind: str | None = None) -> int:
        """How many objects (of ``kind``) were deleted during this test."""
        counts = self.ledger.deleted_since(self.start_mark)
        return sum(counts.values()) if kind is None else counts.get(kind, 0)

    def mark(self) -> int:
        """A point to pass to :meth:`leaks_since` later in the test."""
        return self.ledger.mark()

    def leaks_since(self, mark: int, kinds: Iterable[str] | None = None) -> list[LiveObject]:
        """Objects created after ``mark`` by the test and still alive (confirmed with glIs*)."""
        return self.ledger.leaks_since(mark, kinds)

    def assert_no_leaks(self, kinds: Iterable[str] | None = None) -> None:
        """Raise AssertionError listing every object this test created and has not deleted."""
        leaked = self.ledger.leaks_since(self.start_mark, kinds)
        if leaked:
            raise AssertionError(format_gl_leaks(self.ledger.to_findings(leaked)))
