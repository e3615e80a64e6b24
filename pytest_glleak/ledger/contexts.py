"""The ledger's contexts and share groups, and the key slots they own.

Every known context has its own slot (per-context kinds) and shares its group's slot (shared kinds).
:class:`ContextRegistry` keeps the tables (no GL calls); :class:`LedgerContexts`, a mixin of
:class:`~pytest_glleak.ledger.core.Ledger`, is the ledger's context API on top of them: contexts
registered, regrouped and destroyed, with the records that live or die with them. No pytest imports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_glleak import speedups
from pytest_glleak.gl.current import switched
from pytest_glleak.ledger.records import SLOT_SHIFT, LiveObject

if TYPE_CHECKING:
    from pytest_glleak.ledger.intercept import Interceptor

__all__ = ["ContextEntry", "ContextRegistry", "LedgerContexts", "forget_current"]


class ContextEntry:
    """One known context: native handle, share group (id and slot), own slot, how to make it current."""

    __slots__ = ("group", "group_slot", "handle", "make_current", "own_slot")

    def __init__(self, handle: int, group: int, group_slot: int, own_slot: int) -> None:
        self.handle = handle
        self.group = group
        self.group_slot = group_slot
        self.own_slot = own_slot
        self.make_current: Callable[[], Any] | None = None


class ContextRegistry:
    """Contexts by native handle, the members of each share group and each group's slot."""

    def __init__(self) -> None:
        self.entries: dict[int, ContextEntry] = {}
        self.groups: dict[int, set[int]] = {}
        self.group_slots: dict[int, int] = {}
        self._slot_count = 0

    def _new_slot(self) -> int:
        self._slot_count += 1
        return self._slot_count

    def register(self, handle: int, share_group: int | None) -> ContextEntry:
        """Add a context to ``share_group`` (None: a group of its own)."""
        group = handle if share_group is None else int(share_group)
        group_slot = self.group_slots.get(group)
        if group_slot is None:
            group_slot = self.group_slots[group] = self._new_slot()
        entry = ContextEntry(handle, group, group_slot, self._new_slot())
        self.entries[handle] = entry
        self.groups.setdefault(group, set()).add(handle)
        return entry

    def regroup(self, entry: ContextEntry, group: int) -> int | None:
        """Move a context to another share group; returns the old group's slot when that group died
        with the move (its objects now belong to the new group), else None."""
        old_group, old_slot = entry.group, entry.group_slot
        members = self.groups.get(old_group, set())
        members.discard(entry.handle)
        new_slot = self.group_slots.get(group)
        if new_slot is None:
            new_slot = self.group_slots[group] = self._new_slot()
        entry.group, entry.group_slot = group, new_slot
        self.groups.setdefault(group, set()).add(entry.handle)
        if members:
            return None  # the old group lives on in its other contexts, with its objects
        self.groups.pop(old_group, None)
        self.group_slots.pop(old_group, None)
        return old_slot

    def remove(self, handle: int) -> set[int]:
        """Forget a context; returns the slots that died with it (its own, its group's if it was the
        last member). Empty for an unknown handle."""
        entry = self.entries.pop(handle, None)
        if entry is None:
            return set()
        dead_slots = {entry.own_slot}
        members = self.groups.get(entry.group)
        if members is not None:
            members.discard(handle)
            if not members:
                del self.groups[entry.group]
                dead_slots.add(entry.group_slot)
                self.group_slots.pop(entry.group, None)
        return dead_slots


class LedgerContexts:
    """The context part of the :class:`~pytest_glleak.ledger.core.Ledger` (a mixin)."""

    # Set by the Ledger (see its ``__init__``).
    _live: dict[int, LiveObject]
    _context_registry: ContextRegistry
    _contexts: dict[int, ContextEntry]
    _register: Callable[[int, int | None], ContextEntry]
    _attached: dict[int, int]
    _current: Callable[[], Any]
    _interceptor: Interceptor | None

    def context_created(
        self,
        native_handle: int,
        share_group: int | None = None,
        make_current: Callable[[], Any] | None = None,
    ) -> None:
        """Register a context: its native handle (EGLContext, GLXContext), its share group id (None:
        a group of its own) and a callable that makes it current (used for glIs* checks and cleanup)."""
        handle = int(native_handle)
        forget_current()
        entry = self._contexts.get(handle)
        if entry is None:
            entry = self._register(handle, share_group)
        elif share_group is not None and share_group != entry.group:
            self._regroup(entry, share_group)
        if make_current is not None:
            entry.make_current = make_current

    def context_destroyed(self, native_handle: int) -> None:
        """Forget a context: its per-context objects die, and shared ones when it was the last of its
        share group."""
        handle = int(native_handle)
        forget_current()
        dead_slots = self._context_registry.remove(handle)
        if not dead_slots:
            return
        # In place: the recording handlers hold this very dict.
        live = self._live
        for key in [key for key in live if key >> SLOT_SHIFT in dead_slots]:
            del live[key]

    def attach_context(self, context: Any) -> int:
        """Register one of the plugin's :class:`~pytest_glleak.gl.GLContext` objects (any backend).

        The ledger keys contexts by the handle the GL platform reports as current (EGLContext,
        GLXContext), which for a glfw window is not ``native_handle`` (the window); so the context is
        made current and asked. Returns that handle. Call it from ``ContextProvider.on_create``.
        """
        handle = int(context.native_handle)
        if getattr(context, "backend", "") == "glfw" or self._interceptor is not None:
            if context.is_current():
                handle = int(self._current() or handle)
            else:
                with switched(self._current, self._contexts, context.make_current):
                    handle = int(self._current() or handle)
        self._attached[id(context)] = handle
        self.context_created(handle, getattr(context, "share_group", None), context.make_current)
        return handle

    def detach_context(self, context: Any) -> None:
        """Forget a context registered with :meth:`attach_context` (call before destroying it)."""
        handle = self._attached.pop(id(context), None)
        self.context_destroyed(handle if handle is not None else int(context.native_handle))

    def contexts(self) -> dict[int, int]:
        """Known contexts: native handle -> share group id."""
        return {handle: entry.group for handle, entry in self._contexts.items()}

    def handle_of(self, context: Any) -> int | None:
        """The handle under which :meth:`attach_context` registered one of the plugin's contexts."""
        return self._attached.get(id(context))

    def context_handles(self) -> frozenset[int]:
        """The native handles of every context the ledger knows now."""
        return frozenset(handle for handle in self._contexts if handle)

    def _regroup(self, entry: ContextEntry, group: int) -> None:
        old_slot = self._context_registry.regroup(entry, group)
        if old_slot is None:
            return  # the old group lives on in its other contexts, with its objects
        new_slot = entry.group_slot
        moved: dict[int, LiveObject] = {}
        for key, record in self._live.items():
            if key >> SLOT_SHIFT == old_slot:
                key = (key & ((1 << SLOT_SHIFT) - 1)) | (new_slot << SLOT_SHIFT)
                record.key = key
                record.context = group
            moved[key] = record
        # In place: the recording handlers hold this very dict.
        self._live.clear()
        self._live.update(moved)

    def _entry(self) -> ContextEntry:
        """The entry of the context current in the calling thread (registered now if new)."""
        handle = self._current() or 0
        entry = self._contexts.get(handle)
        if entry is None:
            entry = self._register(handle, None)
        return entry


def forget_current() -> None:
    """A context was created or destroyed (or a test starts): the accelerator's current-context function
    asks the driver again (see :func:`~pytest_glleak.ledger.gl_functions.driver_context_address`)."""
    if speedups.native is not None:
        speedups.native.forget_contexts()
