"""Hooks on pyglet's GL functions, so objects made through pyglet (2.x) join the ledger.

pyglet's GL functions are ctypes function objects made once at import (``pyglet.gl.gl.glGenTextures``),
and pyglet's own modules bind them by name (``from pyglet.gl import glGenTextures``), so replacing
module attributes would miss most calls. The function *objects* are shared by every reference, though,
and ctypes runs a function object's ``errcheck`` after each call with the original arguments: the hook
chains a recording ``errcheck`` in front of pyglet's own (its ``debug_gl`` error check, when on). It sees
headless (EGL) and windowed pyglet alike. No pytest imports.
"""

from __future__ import annotations

import ctypes
import sys
from typing import TYPE_CHECKING, Any

from pytest_glleak.ledger.trampolines import HOOKED

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger

__all__ = ["PygletHooks"]

#: pyglet's modules that define GL functions.
_MODULES = ("pyglet.gl.gl", "pyglet.gl.gl_compat")


def _passthrough(result: Any, function: Any, arguments: Any) -> Any:
    return result


class PygletHooks:
    """A recording ``errcheck`` on each of pyglet's create/delete/storage/label GL functions."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        #: function object -> the errcheck it had (None: none).
        self._originals: dict[int, tuple[Any, Any]] = {}
        self.errors: list[BaseException] = []

    @property
    def installed(self) -> bool:
        """Whether pyglet's functions carry the recording errcheck now."""
        return bool(self._originals)

    def install(self) -> None:
        """Chain the recording errcheck, if pyglet.gl is imported (a no-op when installed)."""
        if self._originals or "pyglet.gl" not in sys.modules:
            return
        handlers = self._ledger._handlers()
        interceptor = self._ledger.interceptor
        guard = interceptor.guard if interceptor is not None else None
        errors = self.errors
        function_type: Any = ctypes.CFUNCTYPE(None).__mro__[1]  # ctypes' _CFuncPtr
        for module_name in _MODULES:
            module = sys.modules.get(module_name)
            if module is None:
                continue
            namespace = vars(module)
            for name in HOOKED:
                function: Any = namespace.get(name)
                handler = handlers.get(name)
                if handler is None or not isinstance(function, function_type):
                    continue
                if id(function) in self._originals:
                    continue
                previous = getattr(function, "errcheck", None)
                if previous is _passthrough:
                    previous = None
                function.errcheck = _recording(handler, previous, guard, errors)
                self._originals[id(function)] = (function, previous)

    def uninstall(self) -> None:
        """Put each function's own errcheck back."""
        for function, previous in self._originals.values():
            # ctypes refuses errcheck = None: an unhooked function gets an inert errcheck instead.
            function.errcheck = previous if previous is not None else _passthrough
        self._originals = {}


def _recording(handler: Any, previous: Any, guard: Any, errors: list[BaseException]) -> Any:
    def errcheck(result: Any, function: Any, arguments: tuple[Any, ...]) -> Any:
        if previous is not None:
            result = previous(result, function, arguments)  # pyglet's error check: it may raise
        if guard is None or not guard.depth:
            try:
                handler(tuple(arguments), result)
            except Exception as exc:  # a ledger bug must never break pyglet's GL call
                if len(errors) < 100:
                    errors.append(exc)
        return result

    return errcheck
