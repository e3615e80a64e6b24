"""Who owns the GL objects other threads make: the code that started the thread.

A mixin of :class:`~pytest_glleak.ledger.core.Ledger`: while the ledger is installed,
``threading.Thread.start`` remembers on each new thread the (owner, test) of the code that started it, so
a module fixture's render thread makes the fixture's objects, and a thread the test started makes the
test's. No pytest imports, no GL calls.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["ThreadOwners"]


class ThreadOwners:
    """The thread-ownership part of the :class:`~pytest_glleak.ledger.core.Ledger` (a mixin)."""

    # Set by the Ledger (see its ``__init__``).
    test: str
    owner: str
    test_thread: int
    _thread_start: Callable[..., Any] | None
    _thread_owners: weakref.WeakKeyDictionary[threading.Thread, tuple[str, str]]

    def _hook_thread_start(self) -> None:
        """Remember, on each thread started from now on, who started it (``owner``, ``test``): objects
        the thread makes are that owner's (a module fixture's render thread is the fixture's)."""
        if self._thread_start is not None:
            return
        original = threading.Thread.start
        owners = self._thread_owners
        starter = self._starter

        def start(thread: threading.Thread) -> None:
            owners[thread] = starter()
            original(thread)

        start.__doc__ = original.__doc__
        self._thread_start = original
        threading.Thread.start = start  # type: ignore[method-assign,assignment]

    def _unhook_thread_start(self) -> None:
        """Put back the ``threading.Thread.start`` :meth:`_hook_thread_start` replaced."""
        if self._thread_start is not None:
            threading.Thread.start = self._thread_start  # type: ignore[method-assign]
            self._thread_start = None

    def _starter(self) -> tuple[str, str]:
        """(owner, test) of the code running in the calling thread."""
        if threading.get_ident() == self.test_thread:
            return self.owner, self.test
        return self._thread_owner()

    def thread_owner(self) -> str:
        """The owner of what the calling thread (not the test thread) makes: that of the code that
        started it (``fixture:module:atlas#3`` for a fixture's render thread), or ``"session"``."""
        return self._thread_owner()[0]

    def _thread_owner(self) -> tuple[str, str]:
        """(owner, test) of the calling thread (not the test thread): who started it, or ("session", "")
        for a thread started before the ledger was installed or behind ``threading``'s back."""
        return self._thread_owners.get(threading.current_thread(), ("session", ""))
