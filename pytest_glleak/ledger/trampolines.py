"""Recording trampolines: C function pointers that call a real GL entry point, then record the call.

Bindings that call GL from C (moderngl, through the loader object it asks for every entry point's
address) never pass through PyOpenGL, so the interceptor cannot see them. For those, the address handed
to the binding for a create/delete/storage/label entry point is replaced by a ``ctypes.CFUNCTYPE``
callback with the same C signature (taken from PyOpenGL's raw function of that name): it calls the real
pointer, then runs the ledger's handler for that entry point with the arguments adapted to what the
handlers expect (arrays of names read from the caller's memory, label strings read from their pointer).

A binding keeps the addresses it was given for as long as its context lives, possibly past the ledger's
uninstall, so trampolines are never freed: they live in a process-wide table keyed by (entry point,
real address) and pass straight through while no ledger is attached to them. No pytest imports.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_glleak.ledger import registry

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger
    from pytest_glleak.ledger.intercept import Handler

__all__ = ["HOOKED", "Trampolines"]

#: Every entry point that gets a trampoline.
HOOKED: frozenset[str] = frozenset([*registry.CREATE, *registry.DELETE, *registry.STORAGE, *registry.LABEL])

Adapter = Callable[[tuple[Any, ...]], tuple[Any, ...]]


class _Cell:
    """What a trampoline records into: swapped as ledgers attach and detach (never freed)."""

    __slots__ = ("errors", "guard", "handler")

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.guard: Any = None
        self.errors: list[BaseException] = []


#: (entry point, real address) -> (the callback object, kept alive; its address; its cell).
_TABLE: dict[tuple[str, int], tuple[Any, int, _Cell]] = {}
#: entry point -> its C prototype (None: PyOpenGL does not know it).
_PROTOTYPES: dict[str, Any] = {}


class Trampolines:
    """Hands out recording trampolines for one :class:`~pytest_glleak.ledger.Ledger`."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._handlers: dict[str, Handler] | None = None
        self._cells: list[_Cell] = []
        self.attached = False

    def attach(self) -> None:
        """Route every trampoline made so far (and later) to this ledger."""
        self.attached = True
        for (name, _), (_, _, cell) in _TABLE.items():
            self._bind(name, cell)

    def detach(self) -> None:
        """Trampolines bound to this ledger pass straight through from now on."""
        self.attached = False
        for cell in self._cells:
            cell.handler = None
            cell.guard = None
        self._cells = []

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised inside trampoline handlers (kept away from the binding)."""
        return [error for cell in self._cells for error in cell.errors]

    def address(self, name: str, real: int) -> int:
        """The address to hand a binding for entry point ``name`` whose real address is ``real``."""
        if not real or name not in HOOKED:
            return real
        found = _TABLE.get((name, real))
        if found is None:
            prototype = _prototype(name)
            if prototype is None:
                return real
            cell = _Cell()
            callback = _make(name, prototype, real, cell)
            found = (callback, ctypes.cast(callback, ctypes.c_void_p).value or 0, cell)
            _TABLE[(name, real)] = found
        if self.attached:
            self._bind(name, found[2])
        return found[1] or real

    def _bind(self, name: str, cell: _Cell) -> None:
        if cell.handler is not None and cell in self._cells:
            return
        if self._handlers is None:
            self._handlers = self._ledger._handlers()
        handler = self._handlers.get(name)
        if handler is None:
            return
        interceptor = self._ledger.interceptor
        cell.handler = handler
        cell.guard = interceptor.guard if interceptor is not None else None
        self._cells.append(cell)


def _make(name: str, prototype: Any, real: int, cell: _Cell) -> Any:
    call_real = prototype(real)
    adapt = _adapter(name)

    def trampoline(*args: Any) -> Any:
        result = call_real(*args)
        handler = cell.handler
        if handler is not None:
            guard = cell.guard
            if guard is None or not guard.depth:
                try:
                    handler(adapt(args) if adapt is not None else args, result)
                except Exception as exc:  # a ledger bug must never break the binding's GL call
                    if len(cell.errors) < 100:
                        cell.errors.append(exc)
        return result

    trampoline.__name__ = name
    return prototype(trampoline)


def _adapter(name: str) -> Adapter | None:
    """Turns pointer arguments (plain ints here) into what the handlers read."""
    shape_entry = registry.CREATE.get(name) or registry.DELETE.get(name)
    if shape_entry is not None:
        _, shape, count_index, names_index = shape_entry
        if shape != "array":
            return None

        uint_arrays: dict[int, Any] = {}

        def names_at(args: tuple[Any, ...]) -> tuple[Any, ...]:
            pointer = args[names_index]
            count = args[count_index]
            values = list(args)
            if pointer and count > 0:
                array_type = uint_arrays.get(count)
                if array_type is None:
                    array_type = uint_arrays[count] = ctypes.c_uint * count
                values[names_index] = array_type.from_address(pointer)
            else:
                values[names_index] = ()
            return tuple(values)

        return names_at
    label = registry.LABEL.get(name)
    if label is not None:
        _, _, length_index, label_index = label

        def label_at(args: tuple[Any, ...]) -> tuple[Any, ...]:
            pointer = args[label_index]
            length = int(args[length_index])
            values = list(args)
            if not pointer:
                values[label_index] = ""
            else:
                raw = ctypes.string_at(pointer, length) if length >= 0 else ctypes.string_at(pointer)
                values[label_index] = raw.decode("utf-8", "replace")
            return tuple(values)

        return label_at
    return None


def _prototype(name: str) -> Any:
    """The C prototype of ``name``: PyOpenGL's raw argument types, every pointer as ``c_void_p``."""
    if name in _PROTOTYPES:
        return _PROTOTYPES[name]
    prototype = None
    raw = _raw_function(name)
    if raw is not None:
        argtypes = getattr(raw, "argtypes", None) or ()
        restype = getattr(raw, "restype", None)
        prototype = ctypes.CFUNCTYPE(_plain(restype, result=True), *(_plain(t) for t in argtypes))
    _PROTOTYPES[name] = prototype
    return prototype


def _plain(ctype: Any, result: bool = False) -> Any:
    if ctype is None:
        return None
    if isinstance(ctype, type) and issubclass(ctype, ctypes._SimpleCData):
        if ctype in (ctypes.c_char_p, ctypes.c_wchar_p):
            return ctypes.c_void_p
        return ctype
    return ctypes.c_void_p  # arrays, pointers, opaque handles (GLsync)


def _raw_function(name: str) -> Any:
    import OpenGL.GL  # noqa: F401  (creates the raw modules of every core version)
    from OpenGL.platform.baseplatform import _NullFunctionPointer

    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("OpenGL.raw.GL."):
            continue
        raw = getattr(module, "__dict__", {}).get(name)
        if isinstance(raw, _NullFunctionPointer):
            return raw
    return None
