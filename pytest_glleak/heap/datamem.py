"""Precise image checks through NumPy's data-memory handler (``PyDataMem_SetHandler``, NumPy >= 1.22).

For a test marked ``no_image_leak`` the tracker installs, for that test only, a handler that wraps the
one in place (NumPy's default or another library's): its ``malloc``/``calloc`` forward to theirs and
record every allocation of ``min_bytes`` or more with its address and creation site. Reached with
``ctypes`` through NumPy's C API table (the ``_ARRAY_API`` capsule, slots 304/305 in
``numpy_api.py``): nothing is compiled.

Why it is safe at interpreter shutdown: an array keeps a reference to the handler it was allocated
under and frees its data through that handler's ``free``, possibly long after the test, after the
plugin unconfigured, or while the interpreter is finalizing. Our handler's ``free`` and ``realloc`` are
*the wrapped handler's own C function pointers* with its own ``ctx``, so freeing never calls Python. The
handler struct lives in raw memory that is never freed; the capsule, the ``malloc``/``calloc`` thunks
and the wrapped handler's capsule are kept alive for good (a handful, reused, see :class:`_Entry`).

Liveness comes from the capsule's reference count: each array allocated under our handler holds one
reference until its data is freed, so "reference count back to where it was" means every array the
test allocated is gone (an O(1) clean path). Only when that is not so (and a large allocation was
recorded) does the tracker walk the heap for arrays whose data address is one we recorded.

Threads: the handler is a context variable. Code that runs in the test's context (the test thread,
asyncio tasks, ``contextvars.copy_context().run``) allocates under it, from any thread (the thunks take
the GIL). A plain ``threading.Thread`` starts with a fresh context on CPython < 3.14, so while a window is
open a ``threading.setprofile`` function (the public hook that runs in each new thread before its
``run()``) installs our handler in the new thread's context too, then hands the thread the profile
function that was set before (usually none). Threads started before the window (pools) keep theirs.
"""

from __future__ import annotations

import ctypes
import importlib
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_glleak import sites

#: Slots of ``PyDataMem_SetHandler`` / ``PyDataMem_GetHandler`` in NumPy's C API table
#: (``numpy/_core/code_generators/numpy_api.py``: ``(304, MinVersion("1.22"))``, ``(305, ...)``).
SET_HANDLER_SLOT, GET_HANDLER_SLOT = 304, 305
#: Wrapped handlers kept at most (entries still held by live arrays cannot be rebound to another).
POOL_LIMIT = 8
HANDLER_NAME = b"pytest_glleak"

_MALLOC_C = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_CALLOC_C = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
# Calling the wrapped handler keeps the GIL (PYFUNCTYPE): NumPy may call us with it released, the
# thunk takes it, and a nested CFUNCTYPE call would try to release a thread state it does not own.
_MALLOC_PY = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_CALLOC_PY = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)


class _Allocator(ctypes.Structure):
    _fields_ = (
        ("ctx", ctypes.c_void_p),
        ("malloc", ctypes.c_void_p),
        ("calloc", ctypes.c_void_p),
        ("realloc", ctypes.c_void_p),
        ("free", ctypes.c_void_p),
    )


class _Handler(ctypes.Structure):
    # numpy/ndarraytypes.h: char name[127]; uint8_t version; PyDataMemAllocator allocator.
    _fields_ = (("name", ctypes.c_char * 127), ("version", ctypes.c_uint8), ("allocator", _Allocator))


#: One recorded allocation: (bytes, creation site, tracker phase at the time).
Allocation = tuple[int, sites.Site, str]


class _Entry:
    """One wrapping handler: its capsule, struct (raw memory, never freed) and thunks (kept for good)."""

    def __init__(self, api: _Api, index: int) -> None:
        self.index = index
        self.name = HANDLER_NAME + b"-" + str(index).encode()
        raw = api.raw_calloc(1, ctypes.sizeof(_Handler))
        if not raw:
            raise MemoryError("no memory for a NumPy data-memory handler")
        self.struct = _Handler.from_address(raw)
        self.struct.name = self.name
        self.struct.version = 1
        self.capsule: object = api.capsule_new(raw, b"mem_handler", None)
        self.wrapped: object = None
        self._malloc: Callable[[int | None, int], int | None] | None = None
        self._calloc: Callable[[int | None, int, int], int | None] | None = None
        self.window: DataWindow | None = None
        self.thunks = (_MALLOC_C(self._on_malloc), _CALLOC_C(self._on_calloc))
        for kept in (self.capsule, *self.thunks):
            api.incref(kept)  # arrays may outlive this module's globals (interpreter finalization)
        self.struct.allocator.malloc = ctypes.cast(self.thunks[0], ctypes.c_void_p).value
        self.struct.allocator.calloc = ctypes.cast(self.thunks[1], ctypes.c_void_p).value
        self.baseline = sys.getrefcount(self.capsule)

    def bind(self, api: _Api, wrapped: object) -> None:
        """Forward to ``wrapped`` (a ``mem_handler`` capsule); only while no array holds this entry."""
        if wrapped is self.wrapped:
            return
        theirs = _Handler.from_address(api.capsule_pointer(wrapped, b"mem_handler"))
        if theirs.version != 1:
            raise RuntimeError(f"unknown NumPy data-memory handler version {theirs.version}")
        api.incref(wrapped)  # its ctx must outlive every array allocated through us
        if self.wrapped is not None:
            api.decref(self.wrapped)
        self.wrapped = wrapped
        mine = self.struct.allocator
        self._malloc = _MALLOC_PY(theirs.allocator.malloc)
        self._calloc = _CALLOC_PY(theirs.allocator.calloc)
        mine.ctx = theirs.allocator.ctx
        mine.realloc = theirs.allocator.realloc
        mine.free = theirs.allocator.free

    def held(self) -> int:
        """Arrays (or other holders) that still reference this handler."""
        return sys.getrefcount(self.capsule) - self.baseline

    def _on_malloc(self, ctx: int | None, size: int) -> int | None:
        forward = self._malloc
        if forward is None:
            return None
        address = forward(ctx, size)
        window = self.window
        if window is not None and address and size >= window.min_bytes:
            try:
                window.record(address, size)
            except Exception:
                pass
        return address

    def _on_calloc(self, ctx: int | None, count: int, size: int) -> int | None:
        forward = self._calloc
        if forward is None:
            return None
        address = forward(ctx, count, size)
        window = self.window
        if window is not None and address and count * size >= window.min_bytes:
            try:
                window.record(address, count * size)
            except Exception:
                pass
        return address


class _Api:
    """NumPy's handler functions and the few CPython calls we need, through ``ctypes``."""

    def __init__(self) -> None:
        umath: Any
        try:
            umath = importlib.import_module("numpy._core._multiarray_umath")
        except ImportError:  # NumPy 1.x
            umath = importlib.import_module("numpy.core._multiarray_umath")
        self.get_handler_name: Callable[..., Any] = umath.get_handler_name
        python = ctypes.pythonapi
        get_name = python.PyCapsule_GetName
        get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
        get_pointer = python.PyCapsule_GetPointer
        get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        table_capsule = umath._ARRAY_API
        table = get_pointer(table_capsule, get_name(table_capsule))
        slots = ctypes.cast(table, ctypes.POINTER(ctypes.c_void_p))
        self.set_handler = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.py_object)(slots[SET_HANDLER_SLOT])
        self.get_handler = ctypes.PYFUNCTYPE(ctypes.py_object)(slots[GET_HANDLER_SLOT])
        self.capsule_pointer: Callable[[object, bytes], int] = get_pointer
        new = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p)
        self.capsule_new = new(("PyCapsule_New", python))
        calloc = python.PyMem_RawCalloc
        calloc.restype, calloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t, ctypes.c_size_t]
        self.raw_calloc: Callable[[int, int], int | None] = calloc
        incref, decref = python.Py_IncRef, python.Py_DecRef
        incref.restype = decref.restype = None
        incref.argtypes = decref.argtypes = [ctypes.py_object]
        self.incref: Callable[[object], None] = incref
        self.decref: Callable[[object], None] = decref


_state_lock = threading.Lock()
_api: _Api | None = None
_api_error: str | None = None
_pool: list[_Entry] = []


def unavailable() -> str | None:
    """Why the handler cannot be used here (NumPy < 1.22, no C API table...), or None when it can."""
    global _api, _api_error
    with _state_lock:
        if _api is None and _api_error is None:
            if np.lib.NumpyVersion(np.__version__) < "1.22.0":
                _api_error = f"NumPy {np.__version__} has no data-memory handler API (1.22+)"
            else:
                try:
                    api = _Api()
                    name = api.get_handler_name()
                    if not isinstance(name, str) or api.get_handler() is None:
                        raise RuntimeError("PyDataMem_GetHandler returned nothing")
                    _api = api
                except Exception as error:  # pragma: no cover - depends on the NumPy build
                    _api_error = f"NumPy's data-memory handler is not reachable: {error}"
        return _api_error


class DataWindow:
    """One test's window under our handler: allocations of ``min_bytes`` or more, by address."""

    def __init__(self, min_bytes: int, phase: Callable[[], str], depth: int) -> None:
        self.min_bytes = min_bytes
        self.allocations: dict[int, Allocation] = {}
        self.entry: _Entry | None = None
        self.previous: object = None
        #: Arrays that already held the chosen handler when the window opened (then the reference
        #: count cannot prove the window clean on its own).
        self.held_at_start = 0
        self.held_at_open = 0
        self._phase = phase
        self._depth = depth
        self._thread_start = self._install_in_new_thread  # one bound method: compared at close
        self._thread_profile: Any = None

    def record(self, address: int, size: int) -> None:
        self.allocations[address] = (
            size,
            sites.capture(self._depth, sys._getframe(2), imports=True),
            self._phase(),
        )

    def open(self) -> None:
        """Install our handler in the current context, wrapping the one there now."""
        api = _api
        assert api is not None, "call unavailable() first"
        current = api.get_handler()
        entry = _choose_entry(api, current)
        entry.bind(api, current)
        self.entry = entry
        self.held_at_start = entry.held()
        entry.window = self
        self.previous = api.set_handler(entry.capsule)
        self.held_at_open = entry.held()  # the context variable's own reference included
        self._thread_profile = threading.getprofile()
        threading.setprofile(self._thread_start)

    def _install_in_new_thread(self, frame: Any, event: str, arg: Any) -> None:
        """First profile event of a thread started during the window: our handler in its context."""
        sys.setprofile(self._thread_profile)
        entry, api = self.entry, _api
        if entry is not None and entry.window is self and api is not None:
            api.set_handler(entry.capsule)

    def close(self) -> None:
        """Stop recording; give the context its handler back if ours is still the one there."""
        entry = self.entry
        if entry is None:
            return
        entry.window = None
        self.allocations = {}
        if threading.getprofile() is self._thread_start:
            threading.setprofile(self._thread_profile)
        self._thread_profile = None
        api = _api
        if api is not None and self.previous is not None and api.get_handler() is entry.capsule:
            api.set_handler(self.previous)
        self.previous = None

    def maybe_alive(self) -> bool:
        """Whether a large allocation of this window may still be alive (cheap; no heap walk)."""
        entry = self.entry
        if entry is None or not self.allocations or _api is None:
            return False
        if self.held_at_start > 0:
            return True
        # While ours is the context's handler, the context variable holds one reference to it.
        installed = _api.get_handler() is entry.capsule
        return entry.held() + (0 if installed else 1) > self.held_at_open

    def owns(self, array: np.ndarray[Any, Any]) -> Allocation | None:
        """The recorded allocation behind ``array``'s data, if it was made under this window."""
        entry = self.entry
        if entry is None or not array.flags.owndata:
            return None
        found = self.allocations.get(int(array.__array_interface__["data"][0]))
        if found is None or _api is None:
            return None
        try:
            name = _api.get_handler_name(array)
        except (TypeError, ValueError):
            return None
        return found if name == entry.name.decode() else None


def _choose_entry(api: _Api, current: object) -> _Entry:
    for entry in _pool:
        if entry.wrapped is current and entry.held() == 0 and entry.capsule is not current:
            return entry
    for entry in _pool:
        if entry.held() == 0 and entry.capsule is not current:
            return entry
    if len(_pool) < POOL_LIMIT:
        entry = _Entry(api, len(_pool))
        _pool.append(entry)
        return entry
    same = [entry for entry in _pool if entry.wrapped is current and entry.capsule is not current]
    if same:
        return min(same, key=_Entry.held)
    entry = _Entry(api, len(_pool))  # every entry pinned to another handler: pathological, grow
    _pool.append(entry)
    return entry
