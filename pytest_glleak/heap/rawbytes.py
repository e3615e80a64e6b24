"""Kept ``Image.tobytes()`` results, for precise checks without tracemalloc.

A ``bytes`` object cannot be weakly referenced, so during a precise window the ``tobytes`` wrapper
keeps a strong reference to each result of ``min_bytes`` or more, and lets go of those that nobody
else holds any more (their reference count is back to ours) on every later call and at the check.
A result is therefore freed at most one ``tobytes`` call (or the end of the test) later than without
the plugin; what is still held by someone else at the check is a leak.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

from PIL import Image

from pytest_glleak import sites

#: One kept result: (the bytes, creation site, tracker phase when made).
KeptBytes = tuple[bytes, sites.Site, str]


def _own_references() -> int:
    kept: list[KeptBytes] = [(bytes(bytearray(8)), sites.EMPTY_SITE, "")]
    return sys.getrefcount(kept[0][0])


#: ``sys.getrefcount`` of a kept result that only this module holds (as read in :meth:`prune`).
OWN_REFERENCES = _own_references()


class BytesWindow:
    """Wraps ``Image.Image.tobytes`` while open; :attr:`kept` are the results others may still hold."""

    def __init__(self, min_bytes: int, phase: Callable[[], str], depth: int) -> None:
        self.min_bytes = min_bytes
        self.kept: list[KeptBytes] = []
        self._phase = phase
        self._depth = depth
        self._original: Any = None
        self._wrapper: Any = None

    def open(self) -> None:
        original = Image.Image.__dict__.get("tobytes")
        if original is None:
            return
        window = self

        @functools.wraps(original)
        def tobytes(image: Image.Image, *args: Any, **kwargs: Any) -> bytes:
            data: bytes = original(image, *args, **kwargs)
            if type(data) is bytes and len(data) >= window.min_bytes and window._wrapper is not None:
                window.prune()
                site = sites.capture(window._depth, sys._getframe(1), imports=True)
                window.kept.append((data, site, window._phase()))
            return data

        self._original, self._wrapper = original, tobytes
        Image.Image.tobytes = tobytes  # type: ignore[method-assign, assignment]

    def prune(self) -> None:
        """Let go of the results nobody else holds."""
        kept = self.kept
        if kept:
            self.kept = [entry for entry in kept if sys.getrefcount(entry[0]) > OWN_REFERENCES]

    def close(self) -> None:
        """Restore ``tobytes`` (if the wrapper is still the one in place) and let go of every result."""
        wrapper, self._wrapper = self._wrapper, None
        if wrapper is not None and Image.Image.__dict__.get("tobytes") is wrapper:
            Image.Image.tobytes = self._original  # type: ignore[method-assign]
        self.kept = []
