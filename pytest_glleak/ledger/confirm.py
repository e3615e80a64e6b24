"""Asking the driver: glIs* confirmation of recorded objects and the cleanup deletes of leaked ones.

Each record is checked (or deleted) with a context of its share group current (its own context for
per-context kinds), made current for the work and the user's binding restored after. No pytest imports.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pytest_glleak.gl.current import CurrentBinding
from pytest_glleak.ledger.gl_functions import DELETERS, bound_object, gl_function, is_function
from pytest_glleak.ledger.records import DEFERRED, LIVE, RESERVED, SHARED, LiveObject

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger

__all__ = ["confirm", "delete"]

Work = Callable[[LiveObject], "bool | None"]


def confirm(ledger: Ledger, records: list[LiveObject]) -> list[LiveObject]:
    """The records the driver still knows (glIs*); those it does not are dropped from the ledger."""
    kept: list[LiveObject] = []
    if _forget_destroyed_contexts(ledger, records):
        live = ledger._live
        records = [record for record in records if live.get(record.key) is record]
    with in_contexts(ledger, records) as run:
        for record in records:
            record.confirmed = None
            verdict = run(record, _probe)
            if record.confirmed is None:
                record.confirmed = False  # no context could be made current, or no glIs* to ask
            if verdict is False:
                ledger._forget(record)
            else:
                kept.append(record)
    return kept


def _forget_destroyed_contexts(ledger: Ledger, records: list[LiveObject]) -> bool:
    """Forget the EGL contexts of ``records`` that no longer exist (destroyed behind the hooks' back, e.g.
    by a bare ctypes ``eglDestroyContext``): their objects died with them. True when any was."""
    displays = ledger._egl_displays
    if not displays:
        return False
    handles: set[int] = set()
    for record in records:
        if record.kind in SHARED:
            handles.update(ledger._groups.get(record.context, ()))
        else:
            handles.add(record.context)
    dead = [
        handle
        for handle in handles
        if handle in displays and not _egl_context_exists(displays[handle], handle)
    ]
    for handle in dead:
        displays.pop(handle, None)
        ledger.context_destroyed(handle)
    return bool(dead)


_EGL_CONFIG_ID = 0x3028
_EGL_BAD_CONTEXT = 0x3006
_EGL_BAD_DISPLAY = 0x3008
_EGL_NOT_INITIALIZED = 0x3001


def _egl_context_exists(display: int, handle: int) -> bool:
    """eglQueryContext on the context's display; False only when EGL says the context (or its display)
    is gone, True when it exists or cannot be asked."""
    try:
        from pytest_glleak.gl.egl import egl_library

        egl = egl_library()
        value = ctypes.c_int32()
        if egl.eglQueryContext(display, handle, _EGL_CONFIG_ID, ctypes.byref(value)):
            return True
        return egl.eglGetError() not in (_EGL_BAD_CONTEXT, _EGL_BAD_DISPLAY, _EGL_NOT_INITIALIZED)
    except Exception:
        return True


def _probe(record: LiveObject) -> bool | None:
    query = is_function(record.kind)
    if query is None:
        return None
    try:
        exists = bool(query(record.name))
    except Exception:
        return None
    record.confirmed = True
    if record.state == RESERVED:
        # Binds are not hooked: a glGen'd name the driver knows was bound (or begun) since.
        if exists:
            record.state = LIVE
        return None  # glIs* is false for a name still only reserved: keep it, as reserved
    return exists


def delete(ledger: Ledger, records: list[LiveObject]) -> int:
    """Delete the records' objects through GL where a context of theirs exists; returns how many."""
    deleted = 0
    with in_contexts(ledger, records) as run:
        for record in records:
            if run(record, _delete_one):
                ledger._forget(record)
                deleted += 1
    return deleted


def _delete_one(record: LiveObject) -> bool | None:
    deleter = DELETERS.get(record.kind)
    if deleter is None:
        return None
    function = gl_function(deleter)
    if function is None:
        return None
    name = record.name
    try:
        if record.kind == "sync":
            function(ctypes.c_void_p(name))
        elif record.kind in DEFERRED:
            function(name)
        elif record.kind == "display_list":
            function(name, 1)
        else:
            function(1, (ctypes.c_uint32 * 1)(name))
    except Exception:
        return None
    return True


@contextmanager
def in_contexts(
    ledger: Ledger, records: list[LiveObject]
) -> Iterator[Callable[[LiveObject, Work], bool | None]]:
    """Runs per-record GL work with a context of the record's group current (None: none available)."""
    saved = CurrentBinding.capture(ledger._current, ledger._contexts) if records else None
    cache: dict[tuple[bool, int, bool], bool] = {}

    def run(record: LiveObject, work: Work) -> bool | None:
        shared = record.kind in SHARED
        # Display lists exist only in compatibility contexts: a core member of the group cannot answer.
        compat = record.kind in COMPAT_ONLY
        slot_key = (shared, record.context, compat)
        usable = cache.get(slot_key)
        if usable is None:
            usable = cache[slot_key] = _make_current_for(ledger, shared, record.context, compat)
        if not usable:
            return None
        return work(record)

    try:
        with ledger.suspended():
            yield run
    finally:
        if saved is not None:
            saved.restore()


#: Kinds that only a compatibility-profile context knows (glIsList is not part of the core profile).
COMPAT_ONLY = frozenset(("display_list",))
_GL_CONTEXT_PROFILE_MASK = 0x9126
_GL_CONTEXT_CORE_PROFILE_BIT = 0x1


def _make_current_for(ledger: Ledger, shared: bool, context: int, compat: bool = False) -> bool:
    contexts = ledger._contexts
    handle = ledger._current() or 0
    entry = contexts.get(handle)
    if (
        entry is not None
        and (entry.group == context if shared else entry.handle == context)
        and (not compat or current_is_compat())
    ):
        return True
    if shared:
        candidates = [contexts[h] for h in ledger._groups.get(context, ()) if h in contexts]
    else:
        candidates = [contexts[context]] if context in contexts else []
    for candidate in candidates:
        if candidate.make_current is None or candidate is entry:
            continue
        try:
            candidate.make_current()
        except Exception:
            continue
        if compat and not current_is_compat():
            continue
        return True
    return False


def current_is_compat() -> bool:
    """Whether the current context has the compatibility profile (or predates profiles: GL < 3.2)."""
    try:
        mask = bound_object(_GL_CONTEXT_PROFILE_MASK)
        error = gl_function("glGetError")
        if error is not None:
            for _ in range(16):  # GL < 3.2 has no profile mask: drain its INVALID_ENUM
                if not error():
                    break
    except Exception:
        return False
    return not mask & _GL_CONTEXT_CORE_PROFILE_BIT
