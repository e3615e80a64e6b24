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

import ctypes
import itertools
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pytest_glleak import sites
from pytest_glleak.ledger import confirm as confirming
from pytest_glleak.ledger import registry
from pytest_glleak.ledger.contexts import ContextEntry, ContextRegistry, LedgerContexts, forget_current
from pytest_glleak.ledger.gl_functions import current_context_function, is_function
from pytest_glleak.ledger.glfw_hooks import GlfwHooks
from pytest_glleak.ledger.handlers import build_handlers
from pytest_glleak.ledger.intercept import Handler, Interceptor
from pytest_glleak.ledger.moderngl_hooks import ModernglHooks
from pytest_glleak.ledger.pyglet_hooks import PygletHooks
from pytest_glleak.ledger.queries import LedgerQueries, Mark
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
from pytest_glleak.ledger.sweep import LedgerSweeps
from pytest_glleak.ledger.threads import ThreadOwners
from pytest_glleak.sites import EMPTY_SITE, capture

if TYPE_CHECKING:
    from types import FrameType

    from pytest_glleak.findings import LeakedGLObject

__all__ = ["Ledger", "Mark"]


class Ledger(LedgerContexts, ThreadOwners, LedgerQueries, LedgerSweeps):
    """Records GL objects created and deleted through PyOpenGL, per context / share group.

    Its context API (:class:`~pytest_glleak.ledger.contexts.LedgerContexts`), thread ownership
    (:class:`~pytest_glleak.ledger.threads.ThreadOwners`), queries
    (:class:`~pytest_glleak.ledger.queries.LedgerQueries`) and driver sweeps
    (:class:`~pytest_glleak.ledger.sweep.LedgerSweeps`) live in their own modules; recording (the hot
    path) and install/uninstall are here.

    ``stack_depth`` is the number of user-code frames kept per creation site (0: none).
    ``current_context`` returns the native handle of the context current in the calling thread; by
    default PyOpenGL's ``OpenGL.platform.PLATFORM.GetCurrentContext`` (chosen at :meth:`install`).
    """

    def __init__(self, stack_depth: int = 6, current_context: Callable[[], int | None] | None = None) -> None:
        # (test, phase, owner, test_thread, stack_depth): who records now, read by the recording paths in
        # one lookup (see the properties below).
        self._stamp: tuple[str, str, str, int, int] = ("", "", "test", threading.get_ident(), stack_depth)
        self._live: dict[int, LiveObject] = {}
        # Sequence numbers come from one counter (atomic under the GIL): records made by other threads
        # never share or reorder the test thread's numbers.
        self._next_seq: Callable[[], int] = itertools.count(1).__next__
        self._thread_start: Callable[..., Any] | None = None
        #: (owner, test) of the code that started each thread (see :meth:`_hook_thread_start`).
        self._thread_owners: weakref.WeakKeyDictionary[threading.Thread, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._created = dict.fromkeys(registry.KINDS, 0)
        self._deleted = dict.fromkeys(registry.KINDS, 0)
        #: Recorders that count in C (the accelerator's moderngl recorder): drained into the two tables
        #: above before they are read (:meth:`_settle_counts`).
        self._drains: list[Callable[[], None]] = []
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
        self._moderngl = ModernglHooks(self)
        self._pyglet = PygletHooks(self)
        self._interceptor: Interceptor | None = None
        self._current_given = current_context is not None
        self._current: Callable[[], Any] = current_context or _no_context
        self._recorders: dict[tuple[str, int], Callable[..., None]] = {}

    # --- who records now ----------------------------------------------------------------------
    @property
    def test(self) -> str:
        """The node id of the test running now, set by the glue."""
        return self._stamp[0]

    @test.setter
    def test(self, value: str) -> None:
        self._stamp = (value, *self._stamp[1:])

    @property
    def phase(self) -> str:
        """``"setup"``, ``"call"`` or ``"teardown"``, set by the glue."""
        return self._stamp[1]

    @phase.setter
    def phase(self, value: str) -> None:
        test, _, owner, thread, depth = self._stamp
        self._stamp = (test, value, owner, thread, depth)

    @property
    def owner(self) -> str:
        """``"test"``, or e.g. ``"fixture:module"`` while a wider-scoped fixture is set up."""
        return self._stamp[2]

    @owner.setter
    def owner(self, value: str) -> None:
        test, phase, _, thread, depth = self._stamp
        self._stamp = (test, phase, value, thread, depth)

    @property
    def test_thread(self) -> int:
        """The thread tests run in; objects other threads make belong to whoever started the thread."""
        return self._stamp[3]

    @test_thread.setter
    def test_thread(self, value: int) -> None:
        test, phase, owner, _, depth = self._stamp
        self._stamp = (test, phase, owner, value, depth)

    @property
    def stack_depth(self) -> int:
        """The number of user-code frames kept per creation site (0: none)."""
        return self._stamp[4]

    @stack_depth.setter
    def stack_depth(self, value: int) -> None:
        self._stamp = (*self._stamp[:4], value)

    def _settle_counts(self) -> None:
        """Add what C recorders counted since the last call to the created / deleted tables."""
        for drain in self._drains:
            drain()

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
            # PyOpenGL's own where it returns a pointer (EGL through the plugin's loader where it does
            # not), re-bound so that the call keeps the GIL.
            self._current = current_context_function(_current_context_function(platform.PLATFORM))
            self._recorders.clear()  # they hold the function that reads the current context
        self._interceptor = Interceptor(self._handlers())
        self._interceptor.install()
        self._glfw.install()
        self._hook_thread_start()
        self._moderngl.install()  # glcontext now, when installed: a moderngl imported later is seen
        self.hook_bindings()
        sites.refresh_skipped()  # now that OpenGL (and glfw) are imported

    def uninstall(self) -> None:
        """Remove every hook; the records stay readable."""
        if self._interceptor is not None:
            self._interceptor.uninstall()
            self._interceptor = None
        self._glfw.uninstall()
        self._moderngl.uninstall()
        self._pyglet.uninstall()
        self._unhook_thread_start()

    def hook_bindings(self) -> None:
        """Hook moderngl and pyglet if something has imported them (also checked at every mark())."""
        modules = sys.modules
        fresh = False
        if not self._moderngl.installed and "moderngl" in modules:
            self._moderngl.install()
            fresh = True
        if not self._pyglet.installed and "pyglet.gl" in modules:
            self._pyglet.install()
            fresh = True
        if fresh:
            sites.refresh_skipped()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """GL calls made inside are not recorded."""
        if self._interceptor is None:
            yield
            return
        with self._interceptor.suspended():
            yield

    # --- recording ----------------------------------------------------------------------------
    def record_created(self, kind: str, names: Iterable[int], *, reserved: bool = False) -> None:
        """Record objects created in the current context by a path no hook sees (a C extension)."""
        self._add(kind, [int(name) for name in names], RESERVED if reserved else LIVE)

    def record_deleted(self, kind: str, names: Iterable[int]) -> None:
        """Record objects deleted in the current context by a path no hook sees."""
        self._remove(kind, [int(name) for name in names])

    def _add(
        self,
        kind: str,
        names: Iterable[int],
        state: int,
        frame: FrameType | None = None,
        record_type: type[LiveObject] = LiveObject,
    ) -> LiveObject | None:
        """Record ``names`` as made in the current context; returns the last record (None: none).

        ``frame``: where the creation-site walk starts (default: the handler's caller's caller).
        """
        handle = self._current() or 0
        entry = self._contexts.get(handle) or self._register(handle, None)
        if kind in SHARED:
            context = entry.group
            base = NAMESPACE_BITS[kind] | (entry.group_slot << SLOT_SHIFT)
        else:
            context = handle
            base = NAMESPACE_BITS[kind] | (entry.own_slot << SLOT_SHIFT)
        test, phase, owner, test_thread, depth = self._stamp
        site = capture(depth, frame or sys._getframe(2))
        live = self._live
        thread = _get_ident()
        if thread != test_thread:
            owner, test = self._thread_owner()
            phase = "thread"
        next_seq = self._next_seq
        added = 0
        record = None
        for name in names:
            if name:
                key = base | (name & NAME_MASK)
                if key in live:  # a name the ledger thought alive came back: the old object is gone
                    del live[key]
                live[key] = record = record_type(
                    key, kind, context, next_seq(), test, phase, owner, site, state, thread
                )
                added += 1
        if added:
            self._created[kind] += added
        return record

    def recorder(self, kind: str, state: int) -> Callable[..., None]:
        """The recording function of one (kind, state): ``record(names)`` adds the names as objects made
        in the current context, by the calling code (its creation site), the test running now.
        ``record(names, up)``: the site's walk starts ``up`` frames above ``record`` (default 3: the
        caller of the hooked GL function, above the handler and the hook).

        Built once per handler and cached: everything that is fixed for the kind (namespace bits, shared
        or per-context, the created counter's key) is bound in the closure, so a call does only what
        depends on the call (current context, site, thread, the records).
        """
        cache_key = (kind, state)
        found = self._recorders.get(cache_key)
        if found is not None:
            return found
        shared = kind in SHARED
        namespace_bits = NAMESPACE_BITS[kind]
        contexts = self._contexts
        register = self._register
        live = self._live
        created = self._created
        next_seq = self._next_seq
        current = self._current
        getframe = sys._getframe
        get_ident = _get_ident
        ledger = self

        def record(names: Iterable[int], up: int = 3) -> None:
            handle = current() or 0
            entry = contexts.get(handle) or register(handle, None)
            if shared:
                context = entry.group
                base = namespace_bits | (entry.group_slot << SLOT_SHIFT)
            else:
                context = handle
                base = namespace_bits | (entry.own_slot << SLOT_SHIFT)
            test, phase, owner, test_thread, depth = ledger._stamp
            site = capture(depth, getframe(up)) if depth > 0 else EMPTY_SITE
            thread = get_ident()
            if thread != test_thread:
                owner, test = ledger._thread_owner()
                phase = "thread"
            added = 0
            for name in names:
                if name:
                    key = base | (name & NAME_MASK)
                    if key in live:  # a name the ledger thought alive came back: the old object is gone
                        del live[key]
                    live[key] = LiveObject(
                        key, kind, context, next_seq(), test, phase, owner, site, state, thread
                    )
                    added += 1
            if added:
                created[kind] += added

        self._recorders[cache_key] = record
        return record

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
    def mark(self) -> Mark:
        """A point in the ledger's history, for the ``*_since`` queries.

        The mark carries its own snapshot of the per-kind counts: it lives exactly as long as the caller
        keeps it (no table of marks to evict from, however many a test takes).
        """
        if not self._glfw.installed and self._interceptor is not None and "glfw" in sys.modules:
            self._glfw.install()
        if self._interceptor is not None:
            self.hook_bindings()
        seq = self._next_seq()  # a mark owns its number: two marks never share a snapshot
        # Contexts made and destroyed where no hook sees them (Qt, SDL, ...) could leave the current-context
        # function a stale answer at the same driver address: never past a mark.
        forget_current()
        self._settle_counts()
        return Mark(seq, tuple(self._created.values()), tuple(self._deleted.values()))

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
                "reserved_only": record.state == RESERVED and record.confirmed is not False,
                "unconfirmed": record.confirmed is False,
                "create_site": record.create_site,
            }
            for record in objects
        ]


_get_ident = threading.get_ident


def _no_context() -> int:
    return 0


def _current_context_function(gl_platform: Any) -> Callable[[], Any]:
    """The platform's "current context" function, returning the full context handle.

    PyOpenGL <= 3.1.7 (``OpenGL/platform/egl.py``) hands out libEGL's ``eglGetCurrentContext`` with
    ctypes' default ``int`` return type: a 64-bit EGLContext comes back truncated and never matches
    the handle ``eglCreateContext`` returned. On the EGL platform, use our own typed binding then.
    """
    current: Callable[[], Any] = gl_platform.GetCurrentContext
    if type(gl_platform).__module__ == "OpenGL.platform.egl":
        restype = getattr(current, "restype", ctypes.c_void_p)
        if restype is not ctypes.c_void_p:
            from pytest_glleak.gl.egl import egl_library

            current = egl_library().eglGetCurrentContext
    return current
