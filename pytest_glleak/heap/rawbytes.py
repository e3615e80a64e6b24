"""Kept ``Image.tobytes()`` results, for precise checks without tracemalloc.

A ``bytes`` object cannot be weakly referenced, so during a precise window the ``tobytes`` wrapper
keeps a strong reference to each result of ``min_bytes`` or more, and lets go of those that nobody
else holds any more (their reference count is back to ours) on every later call and at the check.
A result is therefore freed at most one ``tobytes`` call (or the end of the test) later than without
the plugin; what is still held by someone else at the check is a leak.

The wrapper is installed by the first precise window and stays (a window only switches it on), so a
window costs no patching; :func:`uninstall` (called by ``ImageTracker.uninstall``) restores Pillow.
"""

from __future__ import annotations

import functools
import sys
import types
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
    """While open, ``tobytes()`` results of ``min_bytes`` or more are kept in :attr:`kept`."""

    def __init__(self, min_bytes: int, phase: Callable[[], str], depth: int) -> None:
        self.min_bytes = min_bytes
        self.kept: list[KeptBytes] = []
        self._phase = phase
        self._depth = depth

    def open(self) -> None:
        """Switch the wrapper on for this window (installing it the first time)."""
        global _active
        _install()
        _active = self

    def keep(self, data: bytes, frame: types.FrameType) -> None:
        self.prune()
        self.kept.append((data, sites.capture(self._depth, frame, imports=True), self._phase()))

    def prune(self) -> None:
        """Let go of the results nobody else holds."""
        kept = self.kept
        if kept:
            self.kept = [entry for entry in kept if sys.getrefcount(entry[0]) > OWN_REFERENCES]

    def close(self) -> None:
        """Switch the wrapper off and let go of every result."""
        global _active
        if _active is self:
            _active = None
        self.kept = []


_active: BytesWindow | None = None
_installed: tuple[Any, Any] | None = None


def _install() -> None:
    global _installed
    current = Image.Image.__dict__.get("tobytes")
    if current is None or (_installed is not None and current is _installed[1]):
        return
    original = current

    def tobytes(image: Image.Image, *args: Any, **kwargs: Any) -> bytes:
        data: bytes = original(image, *args, **kwargs)
        window = _active
        if window is not None and type(data) is bytes and len(data) >= window.min_bytes:
            window.keep(data, sys._getframe(1))
        return data

    functools.update_wrapper(tobytes, original)
    Image.Image.tobytes = tobytes  # type: ignore[method-assign, assignment]
    _installed = (original, tobytes)


def uninstall() -> None:
    """Restore ``Image.tobytes`` if the wrapper is still the one in place."""
    global _installed, _active
    _active = None
    if _installed is not None and Image.Image.__dict__.get("tobytes") is _installed[1]:
        Image.Image.tobytes = _installed[0]  # type: ignore[method-assign]
    _installed = None
