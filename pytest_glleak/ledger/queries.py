"""What the ledger's history says since a :class:`Mark`: counts created and deleted, live records, leaks.

:class:`LedgerQueries` is a mixin of :class:`~pytest_glleak.ledger.core.Ledger` (which takes the marks,
with :meth:`~pytest_glleak.ledger.core.Ledger.mark`); the glue asks these for the verdict. Reads only the
ledger's tables, except :meth:`LedgerQueries.leaks_since`'s glIs* confirmation. No pytest imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pytest_glleak.ledger.records import PENDING, LiveObject

__all__ = ["LedgerQueries", "Mark"]


class Mark(int):
    """A point in the ledger's history (its sequence number) with the per-kind counts at that point."""

    created: tuple[int, ...]
    deleted: tuple[int, ...]

    def __new__(cls, seq: int, created: tuple[int, ...], deleted: tuple[int, ...]) -> Mark:
        mark = super().__new__(cls, seq)
        mark.created = created
        mark.deleted = deleted
        return mark

    def __reduce__(self) -> Any:
        return (Mark, (int(self), self.created, self.deleted))


class LedgerQueries:
    """The query part of the :class:`~pytest_glleak.ledger.core.Ledger` (a mixin)."""

    # Set by the Ledger (see its ``__init__``).
    test: str
    test_thread: int
    _live: dict[int, LiveObject]
    _created: dict[str, int]
    _deleted: dict[str, int]

    if TYPE_CHECKING:  # defined by the Ledger

        @property
        def installed(self) -> bool: ...

        def confirm(self, records: list[LiveObject]) -> list[LiveObject]: ...

        def _settle_counts(self) -> None: ...

    def _counts_at(self, mark: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        if isinstance(mark, Mark):
            return mark.created, mark.deleted
        zero = (0,) * len(self._created)
        return zero, zero

    def created_since(self, mark: int) -> dict[str, int]:
        """Objects created since ``mark``, per kind (kinds with none left out)."""
        before = self._counts_at(mark)[0]
        self._settle_counts()
        return _differences(self._created, before)

    def deleted_since(self, mark: int) -> dict[str, int]:
        """Objects deleted since ``mark``, per kind (kinds with none left out)."""
        before = self._counts_at(mark)[1]
        self._settle_counts()
        return _differences(self._deleted, before)

    def touched_since(self, mark: int) -> bool:
        """Whether any object was created or deleted since ``mark``."""
        return bool(self.created_since(mark) or self.deleted_since(mark))

    def live(self, kind: str | None = None) -> list[LiveObject]:
        """Every object alive now (pending-delete shaders and programs left out), oldest first."""
        return [
            record
            for record in self._live.values()
            if record.state != PENDING and (kind is None or record.kind == kind)
        ]

    def _newer_than(self, mark: int) -> list[LiveObject]:
        """Records with a sequence number above ``mark``, newest first.

        Records are in creation order per thread: the walk stops at the test thread's first record at or
        below ``mark``, and skips older records of other threads that were inserted late.
        """
        test_thread = self.test_thread
        try:
            return _newer_than(reversed(self._live.values()), mark, test_thread)
        except RuntimeError:  # another thread changed the table during the walk: walk a copy
            return _newer_than(reversed(list(self._live.values())), mark, test_thread)

    def created_after(self, mark: int, kind: str | None = None) -> list[LiveObject]:
        """Objects created after ``mark`` and alive now (any owner), oldest first."""
        found = [
            record
            for record in self._newer_than(mark)
            if record.state != PENDING and (kind is None or record.kind == kind)
        ]
        found.reverse()
        return found

    def leaks_since(
        self, mark: int, kinds: Iterable[str] | None = None, confirm: bool = True
    ) -> list[LiveObject]:
        """Objects owned by ``"test"``, created after ``mark`` and still alive, oldest first.

        Objects made by another thread belong to whoever started that thread (a wider-scoped fixture, the
        session): they are the test's only when the test (or its function-scoped fixtures) started it.

        With ``confirm``, each is checked with glIs* in a context of its share group (made current
        for the check, the previously current context restored); objects the driver says are gone are
        dropped from the ledger. Reserved-only names and queries never begun are reported unchecked.
        """
        wanted = frozenset(kinds) if kinds is not None else None
        candidates: list[LiveObject] = []
        test, test_thread = self.test, self.test_thread
        for record in self._newer_than(mark):
            if record.owner != "test" or record.state == PENDING:
                continue
            if record.thread != test_thread and record.test != test:
                continue  # a thread an earlier test started, still running
            if wanted is not None and record.kind not in wanted:
                continue
            candidates.append(record)
        candidates.reverse()
        if confirm and candidates and self.installed:
            candidates = self.confirm(candidates)
        return candidates


def _newer_than(records: Iterable[LiveObject], mark: int, test_thread: int) -> list[LiveObject]:
    found: list[LiveObject] = []
    for record in records:
        if record.seq <= mark:
            if record.thread == test_thread:
                break
            continue
        found.append(record)
    return found


def _differences(counts: dict[str, int], before: tuple[int, ...]) -> dict[str, int]:
    return {
        kind: count - earlier
        for (kind, count), earlier in zip(counts.items(), before, strict=True)
        if count != earlier
    }
