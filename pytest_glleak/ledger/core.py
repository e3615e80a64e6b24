"""The :class:`Ledger`: every GL object created through PyOpenGL, where it was made, and whether it lives.

No pytest imports. The plugin glue creates one :class:`Ledger` per process, calls :meth:`Ledger.install`
at configure and :meth:`Ledger.uninstall` at unconfigure, sets :attr:`Ledger.test`, :attr:`Ledger.phase`
and :attr:`Ledger.owner` as tests run, registers its own contexts with :meth:`Ledger.context_created`,
and asks :meth:`Ledger.leaks_since` for the verdict.

Model (GL 4.6 chapter 5): records are keyed by (share group or context, namespace, name) plus a
generation (the record's sequence number, so reuse of a name after delete is a new record). Textures,
buffers, renderbuffers, samplers, shaders, programs, syncs and display lists are shared by a share group;
framebuffers, vertex arrays, transform feedbacks, program pipelines and queries belong to one context.
A name from ``glGen*`` is *reserved* until first bound (still reported if never deleted, marked
``reserved_only``; binds are not hooked, being the hottest GL calls, so glIs* settles it at verdict
time, and storage calls ask GL which object is bound); shaders and programs deleted while attached or
in use are *pending* (never leaks); deleting 0 or an unknown name is ignored; destroying the last context
of a share group drops its objects.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pytest_glleak import sites
from pytest_glleak.gl.current import switched
from pytest_glleak.ledger import confirm as confirming
from pytest_glleak.ledger import registry, sweep
from pytest_glleak.ledger.contexts import ContextEntry, ContextRegistry
from pytest_glleak.ledger.gl_functions import current_context_function, is_function
from pytest_glleak.ledger.glfw_hooks import GlfwHooks
from pytest_glleak.ledger.handlers import build_handlers
from pytest_glleak.ledger.intercept import Handler, Interceptor
from pytest_glleak.ledger.records import (
    DEFERRED,
    LIVE,
    NAME_BITS,
    NAME_MASK,
    NAMESPACE,
    NAMESPACE_BITS,
    PENDING,
    RESERVED,
    SHARED,
    SLOT_SHIFT,
    LiveObject,
)
from pytest_glleak.sites import capture

if TYPE_CHECKING:
    from pytest_glleak.findings import LeakedGLObject

__all__ = ["Ledger"]


class Ledger:
    """Records GL objects created and deleted through PyOpenGL, per context / share group.

    ``stack_depth`` is the number of user-code frames kept per creation site (0: none).
    ``current_context`` returns the native handle of the context current in the calling thread; by
    default PyOpenGL's ``OpenGL.platform.PLATFORM.GetCurrentContext`` (chosen at :meth:`install`).
    """

    def __init__(self, stack_depth: int = 6, current_context: Callable[[], int | None] | None = None) -> None:
        self.stack_depth = stack_depth
        #: The node id of the test running now, set by the glue.
        self.test = ""
        #: "setup", "call" or "teardown", set by the glue.
        self.phase = ""
        #: "test", or e.g. "fixture:module" while a wider-scoped fixture is set up.
        self.owner = "test"
        self._live: dict[int, LiveObject] = {}
        self._seq = 0
        self._created = dict.fromkeys(registry.KINDS, 0)
        self._deleted = dict.fromkeys(registry.KINDS, 0)
        self._marks: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
        context_registry = ContextRegistry()
        self._context_registry = context_registry
        # The registry's tables, bound here for the recording hot path (never reassigned).
        self._contexts: dict[int, ContextEntry] = context_registry.entries
        self._groups: dict[int, set[int]] = context_registry.groups
        self._register: Callable[[int, int | None], ContextEntry] = context_registry.register
        self._attached: dict[int, int] = {}
        #: EGLDisplay of each EGL context created through PyOpenGL: eglTerminate ends them all.
        self._egl_displays: dict[int, int] = {}
        self._glfw = GlfwHooks(self)
        self._interceptor: Interceptor | None = None
        self._current_given = current_context is not None
        self._current: Callable[[], Any] = current_context or _no_context

    # --- install ------------------------------------------------------------------------------
    @property
    def installed(self) -> bool:
        """Whether the hooks are in place."""
        return self._interceptor is not None and self._interceptor.installed

    @property
    def hook_errors(self) -> list[BaseException]:
        """Exceptions raised inside the recording hooks (kept away from user code)."""
        return self._interceptor.errors if self._interceptor is not None else []

    @property
    def interceptor(self) -> Interceptor | None:
        """The installed :class:`~pytest_glleak.ledger.intercept.Interceptor`, if any."""
        return self._interceptor

    def install(self) -> None:
        """Hook PyOpenGL's create/delete/bind/storage/label and context entry points (and glfw)."""
        if self._interceptor is not None:
            return
        import OpenGL.platform as platform

        if not self._current_given:
            self._current = current_context_function(platform.PLATFORM.GetCurrentContext)
        self._interceptor = Interceptor(self._handlers())
        self._interceptor.install()
        self._glfw.install()
        sites.refresh_skipped()  # now that OpenGL (and glfw) are imported

    def uninstall(self) -> None:
        """Remove every hook; the records stay readable."""
        if self._interceptor is not None:
            self._interceptor.uninstall()
            self._interceptor = None
        self._glfw.uninstall()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """GL calls made inside are not recorded."""
        if self._interceptor is None:
            yield
            return
        with self._interceptor.suspended():
            yield

    # --- contexts -----------------------------------------------------------------------------
    def context_created(
        self,
        native_handle: int,
        share_group: int | None = None,
        make_current: Callable[[], Any] | None = None,
    ) -> None:
        """Register a context: its native handle (EGLContext, GLXContext), its share group id (None:
        a group of its own) and a callable that makes it current (used for glIs* checks and cleanup)."""
        handle = int(native_handle)
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
        handle = self._current() or 0
        entry = self._contexts.get(handle)
        if entry is None:
            entry = self._register(handle, None)
        return entry

    # --- recording ----------------------------------------------------------------------------
    def record_created(self, kind: str, names: Iterable[int], *, reserved: bool = False) -> None:
        """Record objects created in the current context by a path no hook sees (a C extension)."""
        self._add(kind, [int(name) for name in names], RESERVED if reserved else LIVE)

    def record_deleted(self, kind: str, names: Iterable[int]) -> None:
        """Record objects deleted in the current context by a path no hook sees."""
        self._remove(kind, [int(name) for name in names])

    def _add(self, kind: str, names: Iterable[int], state: int) -> None:
        handle = self._current() or 0
        entry = self._contexts.get(handle) or self._register(handle, None)
        if kind in SHARED:
            context = entry.group
            base = NAMESPACE_BITS[kind] | (entry.group_slot << SLOT_SHIFT)
        else:
            context = handle
            base = NAMESPACE_BITS[kind] | (entry.own_slot << SLOT_SHIFT)
        site = capture(self.stack_depth, sys._getframe(2))
        live = self._live
        test, phase, owner = self.test, self.phase, self.owner
        seq = self._seq
        for name in names:
            if name:
                key = base | (name & NAME_MASK)
                if key in live:  # a name the ledger thought alive came back: the old object is gone
                    del live[key]
                seq += 1
                live[key] = LiveObject(key, kind, context, seq, test, phase, owner, site, state)
        self._created[kind] += seq - self._seq
        self._seq = seq

    def _key(self, kind: str, name: int, entry: ContextEntry) -> int:
        slot = entry.group_slot if kind in SHARED else entry.own_slot
        return (name & NAME_MASK) | (NAMESPACE[kind] << NAME_BITS) | (slot << SLOT_SHIFT)

    def _remove(self, kind: str, names: Iterable[int]) -> None:
        handle = self._current() or 0
        entry = self._contexts.get(handle) or self._register(handle, None)
        if kind == "shader_or_program":
            kind = "program"
        slot = entry.group_slot if kind in SHARED else entry.own_slot
        base = (NAMESPACE[kind] << NAME_BITS) | (slot << SLOT_SHIFT)
        live = self._live
        for name in names:
            if not name:
                continue
            key = base | (name & NAME_MASK)
            record = live.get(key)
            if record is None:
                continue
            if record.kind in DEFERRED:
                if record.state == PENDING:
                    continue
                if self._still_exists(record.kind, name):
                    record.state = PENDING
                    self._deleted[record.kind] += 1
                    continue
            del live[key]
            self._deleted[record.kind] += 1

    def _still_exists(self, kind: str, name: int) -> bool:
        if self._interceptor is None:
            return False  # not hooked into PyOpenGL: no driver to ask
        query = is_function(kind)
        if query is None:
            return False
        try:
            return bool(query(name))
        except Exception:
            return False

    # --- handlers built from the registry -----------------------------------------------------
    def _handlers(self) -> dict[str, Handler]:
        return build_handlers(self)

    # --- queries for the glue -----------------------------------------------------------------
    def mark(self) -> int:
        """A point in the ledger's history, for the ``*_since`` queries."""
        if not self._glfw.installed and self._interceptor is not None and "glfw" in sys.modules:
            self._glfw.install()
        self._seq += 1  # a mark owns its sequence number, so two marks never share a snapshot
        self._marks[self._seq] = (dict(self._created), dict(self._deleted))
        if len(self._marks) > 4096:
            for old in list(self._marks)[:2048]:
                del self._marks[old]
        return self._seq

    def _counts_at(self, mark: int) -> tuple[dict[str, int], dict[str, int]]:
        snapshot = self._marks.get(mark)
        if snapshot is None:
            zero = dict.fromkeys(registry.KINDS, 0)
            return zero, zero
        return snapshot

    def created_since(self, mark: int) -> dict[str, int]:
        """Objects created since ``mark``, per kind (kinds with none left out)."""
        before = self._counts_at(mark)[0]
        return {kind: count - before[kind] for kind, count in self._created.items() if count != before[kind]}

    def deleted_since(self, mark: int) -> dict[str, int]:
        """Objects deleted since ``mark``, per kind (kinds with none left out)."""
        before = self._counts_at(mark)[1]
        return {kind: count - before[kind] for kind, count in self._deleted.items() if count != before[kind]}

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

    def created_after(self, mark: int, kind: str | None = None) -> list[LiveObject]:
        """Objects created after ``mark`` and alive now (any owner), oldest first."""
        found: list[LiveObject] = []
        for record in reversed(self._live.values()):
            if record.seq <= mark:
                break
            if record.state != PENDING and (kind is None or record.kind == kind):
                found.append(record)
        found.reverse()
        return found

    def leaks_since(
        self, mark: int, kinds: Iterable[str] | None = None, confirm: bool = True
    ) -> list[LiveObject]:
        """Objects owned by ``"test"``, created after ``mark`` and still alive, oldest first.

        With ``confirm``, each is checked with glIs* in a context of its share group (made current
        for the check, the previously current context restored); objects the driver says are gone are
        dropped from the ledger. Reserved-only names and queries never begun are reported unchecked.
        """
        wanted = frozenset(kinds) if kinds is not None else None
        candidates: list[LiveObject] = []
        for record in reversed(self._live.values()):
            if record.seq <= mark:
                break
            if record.owner != "test" or record.state == PENDING:
                continue
            if wanted is not None and record.kind not in wanted:
                continue
            candidates.append(record)
        candidates.reverse()
        if confirm and candidates and self.installed:
            candidates = self.confirm(candidates)
        return candidates

    def confirm(self, records: list[LiveObject]) -> list[LiveObject]:
        """The records the driver still knows (glIs*); those it does not are dropped from the ledger."""
        if not self.installed:
            return list(records)
        return confirming.confirm(self, records)

    def _forget(self, record: LiveObject) -> None:
        if self._live.get(record.key) is record:
            del self._live[record.key]

    def delete(self, objects: Iterable[LiveObject]) -> int:
        """Delete leaked objects whose context still exists (not recorded); returns how many."""
        records = [record for record in objects if self._live.get(record.key) is record]
        return confirming.delete(self, records)

    def to_findings(self, objects: Iterable[LiveObject]) -> list[LeakedGLObject]:
        """Leaked records as the plain-builtin findings of :mod:`pytest_glleak.findings`."""
        return [
            {
                "kind": record.kind,
                "name": record.name,
                "label": record.label,
                "bytes": record.nbytes,
                "context": record.context,
                "phase": record.phase,
                "reserved_only": record.state == RESERVED,
                "create_site": record.create_site,
            }
            for record in objects
        ]

    # --- driver sweep -------------------------------------------------------------------------
    def driver_sweep(
        self, kinds: Iterable[str] | None = None, margin: int = 64
    ) -> frozenset[tuple[str, int]]:
        """Names the driver reports alive in the current context that the ledger does not know.

        Probes glIs* on 1 .. (highest name the ledger saw for the kind + ``margin``). Take one sweep at
        test start and pass it to :meth:`outside_since` at the end: objects created by C extensions
        (moderngl, Qt) or plain ctypes, which no PyOpenGL hook sees.
        """
        return sweep.driver_sweep(self, kinds, margin)

    def outside_since(
        self, before: frozenset[tuple[str, int]], kinds: Iterable[str] | None = None
    ) -> list[LiveObject]:
        """Objects the driver knows now but neither the ledger nor the sweep ``before`` did."""
        return sweep.outside_since(self, before, kinds)


def _no_context() -> int:
    return 0
