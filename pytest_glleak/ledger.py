"""The GL object ledger: every object created through PyOpenGL, where it was made, and whether it lives.

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
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from pytest_glleak import _gl_registry as registry
from pytest_glleak import sites
from pytest_glleak.findings import GL_KINDS, Frame, LeakedGLObject
from pytest_glleak.intercept import Handler, Interceptor
from pytest_glleak.ledger_args import (
    StorageSpec,
    as_count,
    as_name,
    as_names,
    as_pointer,
    label_text,
    storage_size,
)
from pytest_glleak.report.gl_text import format_gl_leaks
from pytest_glleak.sites import capture

__all__ = [
    "GL_KINDS",
    "Ledger",
    "LedgerView",
    "LiveObject",
    "format_gl_leaks",
]

RESERVED = 0
LIVE = 1
PENDING = 2

_NAME_BITS = 48
_NAME_MASK = (1 << _NAME_BITS) - 1
_SLOT_SHIFT = _NAME_BITS + 4
# Shaders and programs share one namespace; every other kind has its own.
_NAMESPACE: dict[str, int] = {}
for _index, _kind in enumerate(registry.KINDS):
    _NAMESPACE[_kind] = _index
_NAMESPACE["shader"] = _NAMESPACE["program"]
_NAMESPACE_BITS = {kind: index << _NAME_BITS for kind, index in _NAMESPACE.items()}
_SHARED = registry.SHARED_KINDS
# Kinds whose glGen'd names are objects only after a first bind (queries: first begin).
_RESERVABLE = frozenset(
    (
        "texture",
        "buffer",
        "renderbuffer",
        "framebuffer",
        "vertex_array",
        "transform_feedback",
        "program_pipeline",
        "query",
    )
)
_DEFERRED = frozenset(("shader", "program"))
_TEXTURE0 = registry.ENUMS["GL_TEXTURE0"]


class LiveObject:
    """One GL object the ledger saw created and not (yet) deleted.

    ``kind`` (one of :data:`GL_KINDS`), ``name`` (the GL name; a sync's pointer value), ``context`` (the
    share group for shared kinds, the context handle for per-context kinds), ``test`` and ``phase`` (who
    created it), ``owner`` (``"test"`` or e.g. ``"fixture:module"``), ``site`` (raw frames, see
    :attr:`create_site`), ``label``, :attr:`nbytes` (estimated GPU bytes, computed from the storage calls'
    integer arguments only when asked), ``reserved_only``, ``pending``.
    """

    __slots__ = (
        "context",
        "key",
        "kind",
        "label",
        "owner",
        "phase",
        "seq",
        "site",
        "state",
        "storage",
        "test",
    )

    def __init__(
        self,
        key: int,
        kind: str,
        context: int,
        seq: int,
        test: str,
        phase: str,
        owner: str,
        site: sites.Site,
        state: int,
    ) -> None:
        self.key = key
        self.kind = kind
        self.context = context
        self.seq = seq
        self.test = test
        self.phase = phase
        self.owner = owner
        self.site = site
        self.state = state
        self.label: str | None = None
        #: None, (spec, values) of the last immutable-storage call, or {(target, level): (spec, values)}.
        self.storage: Any = None

    @property
    def name(self) -> int:
        """The GL name (for a sync, the GLsync pointer value)."""
        return self.key & _NAME_MASK

    @property
    def nbytes(self) -> int:
        """Estimated GPU bytes, from the storage calls seen on this object."""
        storage = self.storage
        if storage is None:
            return 0
        if type(storage) is dict:
            return sum(storage_size(spec, values) for spec, values in storage.values())
        return storage_size(*storage)

    @property
    def reserved_only(self) -> bool:
        """Generated but never bound: a reserved name, not yet an object."""
        return self.state == RESERVED

    @property
    def pending(self) -> bool:
        """A shader or program flagged for deletion but still attached or in use."""
        return self.state == PENDING

    @property
    def create_site(self) -> list[Frame]:
        """The creation site, formatted now: ``[{"file", "line", "function"}]``, innermost first."""
        return sites.format_site(self.site)

    def __repr__(self) -> str:
        state = ("reserved", "live", "pending-delete")[self.state]
        return f"<LiveObject {self.kind} {self.name} ctx={self.context} {state} {self.test}:{self.phase}>"


class _Context:
    __slots__ = ("group", "group_slot", "handle", "make_current", "own_slot")

    def __init__(self, handle: int, group: int, group_slot: int, own_slot: int) -> None:
        self.handle = handle
        self.group = group
        self.group_slot = group_slot
        self.own_slot = own_slot
        self.make_current: Callable[[], Any] | None = None


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
        self._contexts: dict[int, _Context] = {}
        self._groups: dict[int, set[int]] = {}
        self._group_slots: dict[int, int] = {}
        self._slot_count = 0
        self._glfw_windows: dict[int, int] = {}
        self._attached: dict[int, int] = {}
        #: EGLDisplay of each EGL context created through PyOpenGL: eglTerminate ends them all.
        self._egl_displays: dict[int, int] = {}
        self._glfw_originals: dict[str, Any] = {}
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
        """The installed :class:`~pytest_glleak.intercept.Interceptor`, if any."""
        return self._interceptor

    def install(self) -> None:
        """Hook PyOpenGL's create/delete/bind/storage/label and context entry points (and glfw)."""
        if self._interceptor is not None:
            return
        import OpenGL.platform as platform

        if not self._current_given:
            self._current = platform.PLATFORM.GetCurrentContext
        self._interceptor = Interceptor(self._handlers())
        self._interceptor.install()
        self._install_glfw()
        sites.refresh_skipped()  # now that OpenGL (and glfw) are imported

    def uninstall(self) -> None:
        """Remove every hook; the records stay readable."""
        if self._interceptor is not None:
            self._interceptor.uninstall()
            self._interceptor = None
        self._uninstall_glfw()

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
        entry = self._contexts.pop(handle, None)
        if entry is None:
            return
        dead_slots = {entry.own_slot}
        members = self._groups.get(entry.group)
        if members is not None:
            members.discard(handle)
            if not members:
                del self._groups[entry.group]
                dead_slots.add(entry.group_slot)
                self._group_slots.pop(entry.group, None)
        self._live = {
            key: record for key, record in self._live.items() if key >> _SLOT_SHIFT not in dead_slots
        }

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
                with _switched(self, context.make_current):
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

    def _new_slot(self) -> int:
        self._slot_count += 1
        return self._slot_count

    def _register(self, handle: int, share_group: int | None) -> _Context:
        group = handle if share_group is None else int(share_group)
        group_slot = self._group_slots.get(group)
        if group_slot is None:
            group_slot = self._group_slots[group] = self._new_slot()
        entry = _Context(handle, group, group_slot, self._new_slot())
        self._contexts[handle] = entry
        self._groups.setdefault(group, set()).add(handle)
        return entry

    def _regroup(self, entry: _Context, group: int) -> None:
        old_group, old_slot = entry.group, entry.group_slot
        members = self._groups.get(old_group, set())
        members.discard(entry.handle)
        new_slot = self._group_slots.get(group)
        if new_slot is None:
            new_slot = self._group_slots[group] = self._new_slot()
        entry.group, entry.group_slot = group, new_slot
        self._groups.setdefault(group, set()).add(entry.handle)
        if members:
            return  # the old group lives on in its other contexts, with its objects
        self._groups.pop(old_group, None)
        self._group_slots.pop(old_group, None)
        moved: dict[int, LiveObject] = {}
        for key, record in self._live.items():
            if key >> _SLOT_SHIFT == old_slot:
                key = (key & ((1 << _SLOT_SHIFT) - 1)) | (new_slot << _SLOT_SHIFT)
                record.key = key
                record.context = group
            moved[key] = record
        self._live = moved

    def _entry(self) -> _Context:
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
        if kind in _SHARED:
            context = entry.group
            base = _NAMESPACE_BITS[kind] | (entry.group_slot << _SLOT_SHIFT)
        else:
            context = handle
            base = _NAMESPACE_BITS[kind] | (entry.own_slot << _SLOT_SHIFT)
        site = capture(self.stack_depth, sys._getframe(2))
        live = self._live
        test, phase, owner = self.test, self.phase, self.owner
        seq = self._seq
        for name in names:
            if name:
                key = base | (name & _NAME_MASK)
                if key in live:  # a name the ledger thought alive came back: the old object is gone
                    del live[key]
                seq += 1
                live[key] = LiveObject(key, kind, context, seq, test, phase, owner, site, state)
        self._created[kind] += seq - self._seq
        self._seq = seq

    def _key(self, kind: str, name: int, entry: _Context) -> int:
        slot = entry.group_slot if kind in _SHARED else entry.own_slot
        return (name & _NAME_MASK) | (_NAMESPACE[kind] << _NAME_BITS) | (slot << _SLOT_SHIFT)

    def _remove(self, kind: str, names: Iterable[int]) -> None:
        handle = self._current() or 0
        entry = self._contexts.get(handle) or self._register(handle, None)
        if kind == "shader_or_program":
            kind = "program"
        slot = entry.group_slot if kind in _SHARED else entry.own_slot
        base = (_NAMESPACE[kind] << _NAME_BITS) | (slot << _SLOT_SHIFT)
        live = self._live
        for name in names:
            if not name:
                continue
            key = base | (name & _NAME_MASK)
            record = live.get(key)
            if record is None:
                continue
            if record.kind in _DEFERRED:
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
        query = _is_function(kind)
        if query is None:
            return False
        try:
            return bool(query(name))
        except Exception:
            return False

    # --- handlers built from the registry -----------------------------------------------------
    def _handlers(self) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {}
        for function_name, (kind, shape, count_index, names_index) in registry.CREATE.items():
            handlers[function_name] = self._create_handler(
                function_name, kind, shape, count_index, names_index
            )
        for function_name, (kind, shape, count_index, names_index) in registry.DELETE.items():
            handlers[function_name] = self._delete_handler(kind, shape, count_index, names_index)
        for function_name, (kind, positions) in registry.STORAGE.items():
            handlers[function_name] = self._storage_handler(function_name, kind, positions)
        for function_name, indices in registry.LABEL.items():
            handlers[function_name] = self._label_handler(indices)
        handlers.update(self._context_handlers())
        return handlers

    def _create_handler(
        self, function_name: str, kind: str, shape: str, count_index: int, names_index: int
    ) -> Handler:
        add = self._add
        if shape == "array":
            state = RESERVED if function_name.startswith("glGen") and kind in _RESERVABLE else LIVE

            def on_create_array(args: tuple[Any, ...], result: Any) -> None:
                add(kind, as_names(args[names_index], as_count(args[count_index])), state)

            return on_create_array
        if shape == "range":

            def on_create_range(args: tuple[Any, ...], result: Any) -> None:
                base = as_name(result)
                if base:
                    add(kind, range(base, base + as_count(args[count_index])), LIVE)

            return on_create_range

        def on_create_return(args: tuple[Any, ...], result: Any) -> None:
            add(kind, (as_pointer(result) if kind == "sync" else as_name(result),), LIVE)

        return on_create_return

    def _delete_handler(self, kind: str, shape: str, count_index: int, names_index: int) -> Handler:
        remove = self._remove
        if shape == "array":

            def on_delete_array(args: tuple[Any, ...], result: Any) -> None:
                if len(args) == 1:  # glDeleteTextures(ids) through a wrapper that passed only the array
                    remove(kind, as_names(args[0], -1))
                else:
                    remove(kind, as_names(args[names_index], as_count(args[count_index])))

            return on_delete_array
        if shape == "range":

            def on_delete_range(args: tuple[Any, ...], result: Any) -> None:
                base = as_name(args[names_index])
                if base:
                    remove(kind, range(base, base + as_count(args[count_index])))

            return on_delete_range

        def on_delete_single(args: tuple[Any, ...], result: Any) -> None:
            value = args[names_index]
            remove(kind, (as_pointer(value) if kind == "sync" else as_name(value),))

        return on_delete_single

    def _storage_handler(self, function_name: str, kind: str, positions: dict[str, int]) -> Handler:
        spec = StorageSpec(kind, positions)
        extract = spec.extract
        is_image = spec.is_image
        target_index = positions.get("target", -1)
        object_index = positions.get("object", -1)
        binding_queries = registry.BINDING_QUERY.get(kind, {})
        namespace_bits = _NAMESPACE[kind] << _NAME_BITS
        contexts = self._contexts
        ledger = self

        def on_storage(args: tuple[Any, ...], result: Any) -> None:
            handle = ledger._current() or 0
            if object_index >= 0:
                name = args[object_index]
                if type(name) is not int:
                    name = as_name(name)
            else:
                query = binding_queries.get(args[target_index])
                if query is None:
                    return  # a proxy target (no storage) or one the registry does not know
                name = _bound_object(query)
            if not name:
                return
            entry = contexts.get(handle) or ledger._register(handle, None)
            key = (name & _NAME_MASK) | namespace_bits | (entry.group_slot << _SLOT_SHIFT)
            record = ledger._live.get(key)
            if record is None:
                return
            record.state = LIVE
            values = extract(args)
            if is_image:
                levels = record.storage if type(record.storage) is dict else {}
                levels[(values[spec.target_at], values[spec.level_at])] = (spec, values)
                record.storage = levels
            else:
                record.storage = (spec, values)

        return on_storage

    def _label_handler(self, indices: tuple[int, int, int, int]) -> Handler:
        identifier_index, object_index, length_index, label_index = indices

        def on_label(args: tuple[Any, ...], result: Any) -> None:
            if identifier_index >= 0:
                kind = registry.LABEL_KINDS.get(int(args[identifier_index]))
                name = as_name(args[object_index])
            else:
                kind, name = "sync", as_pointer(args[object_index])
            if kind is None or not name:
                return
            record = self._live.get(self._key(kind, name, self._entry()))
            if record is not None:
                record.label = label_text(args[label_index], as_name(args[length_index]))

        return on_label

    def _context_handlers(self) -> dict[str, Handler]:
        def created(share_index: int, egl: bool = False) -> Handler:
            def on_context_created(args: tuple[Any, ...], result: Any) -> None:
                handle = as_pointer(result)
                if not handle:
                    return
                share = as_pointer(args[share_index]) if share_index < len(args) else 0
                group = None
                if share:
                    known = self._contexts.get(share) or self._register(share, None)
                    group = known.group
                self.context_created(handle, group)
                if egl:
                    self._egl_displays[handle] = as_pointer(args[0])

            return on_context_created

        def destroyed(args: tuple[Any, ...], result: Any) -> None:
            self._egl_displays.pop(as_pointer(args[1]), None)
            self.context_destroyed(as_pointer(args[1]))

        def terminated(args: tuple[Any, ...], result: Any) -> None:
            # eglTerminate destroys every context of the display: what they held died with them.
            display = as_pointer(args[0])
            if not result or not display:
                return
            for handle, owner in list(self._egl_displays.items()):
                if owner == display:
                    del self._egl_displays[handle]
                    self.context_destroyed(handle)

        return {
            "eglCreateContext": created(2, egl=True),
            "eglDestroyContext": destroyed,
            "eglTerminate": terminated,
            "glXCreateContext": created(2),
            "glXCreateNewContext": created(3),
            "glXCreateContextAttribsARB": created(2),
            "glXDestroyContext": destroyed,
        }

    def _install_glfw(self) -> None:
        # Importing glfw costs ~80 ms; hook it only once something has imported it (checked again at
        # every mark(), i.e. every test start, so a test module's `import glfw` is seen).
        glfw: Any = sys.modules.get("glfw")
        if glfw is None or self._glfw_originals:
            return
        create_window = glfw.create_window
        destroy_window = glfw.destroy_window
        terminate = glfw.terminate
        self._glfw_originals = {
            "create_window": create_window,
            "destroy_window": destroy_window,
            "terminate": terminate,
        }
        ledger = self

        def create_window_hook(width: int, height: int, title: Any, monitor: Any, share: Any) -> Any:
            window = create_window(width, height, title, monitor, share)
            try:
                if window:
                    native = ledger._glfw_native(glfw, window)
                    group = None
                    if share:
                        share_native = ledger._glfw_windows.get(as_pointer(share)) or ledger._glfw_native(
                            glfw, share
                        )
                        if share_native:
                            known = ledger._contexts.get(share_native) or ledger._register(share_native, None)
                            group = known.group
                    if native:
                        ledger._glfw_windows[as_pointer(window)] = native
                        ledger.context_created(native, group)
            except Exception as exc:
                ledger.hook_errors.append(exc)
            return window

        def destroy_window_hook(window: Any) -> Any:
            native = ledger._glfw_windows.pop(as_pointer(window), 0)
            try:
                return destroy_window(window)
            finally:
                if native:
                    ledger.context_destroyed(native)

        def terminate_hook() -> Any:
            # glfw.terminate() destroys every window: what their contexts held died with them.
            try:
                return terminate()
            finally:
                natives = list(ledger._glfw_windows.values())
                ledger._glfw_windows.clear()
                for native in natives:
                    ledger.context_destroyed(native)

        glfw.create_window = create_window_hook
        glfw.destroy_window = destroy_window_hook
        glfw.terminate = terminate_hook

    def _glfw_native(self, glfw: Any, window: Any) -> int:
        """The platform context handle of a glfw window: made current for a moment, then put back.

        (glfw's own get_glx_context/get_egl_context crash on some builds, and glfw keeps its own idea
        of the current window, so both glfw's and the platform's current context are restored.)
        """
        previous_window = glfw.get_current_context()
        with _switched(self, lambda: glfw.make_context_current(window)):
            handle = int(self._current() or 0)
            glfw.make_context_current(previous_window)
        return handle

    def _uninstall_glfw(self) -> None:
        if not self._glfw_originals:
            return
        glfw = sys.modules.get("glfw")
        if glfw is not None:
            for attribute, original in self._glfw_originals.items():
                setattr(glfw, attribute, original)
        self._glfw_originals = {}

    # --- queries for the glue -----------------------------------------------------------------
    def mark(self) -> int:
        """A point in the ledger's history, for the ``*_since`` queries."""
        if not self._glfw_originals and self._interceptor is not None and "glfw" in sys.modules:
            self._install_glfw()
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
        kept: list[LiveObject] = []
        with self._in_contexts(records) as run:
            for record in records:
                verdict = run(record, self._probe)
                if verdict is False:
                    self._forget(record)
                else:
                    kept.append(record)
        return kept

    def _probe(self, record: LiveObject) -> bool | None:
        query = _is_function(record.kind)
        if query is None:
            return None
        try:
            exists = bool(query(record.name))
        except Exception:
            return None
        if record.state == RESERVED:
            # Binds are not hooked: a glGen'd name the driver knows was bound (or begun) since.
            if exists:
                record.state = LIVE
            return None  # glIs* is false for a name still only reserved: keep it, as reserved
        return exists

    def _forget(self, record: LiveObject) -> None:
        if self._live.get(record.key) is record:
            del self._live[record.key]

    def delete(self, objects: Iterable[LiveObject]) -> int:
        """Delete leaked objects whose context still exists (not recorded); returns how many."""
        records = [record for record in objects if self._live.get(record.key) is record]
        deleted = 0
        with self._in_contexts(records) as run:
            for record in records:
                if run(record, self._delete_one):
                    self._forget(record)
                    deleted += 1
        return deleted

    def _delete_one(self, record: LiveObject) -> bool | None:
        deleter = _DELETERS.get(record.kind)
        if deleter is None:
            return None
        function = _gl_function(deleter)
        if function is None:
            return None
        name = record.name
        try:
            if record.kind == "sync":
                function(ctypes.c_void_p(name))
            elif record.kind in _DEFERRED:
                function(name)
            elif record.kind == "display_list":
                function(name, 1)
            else:
                function(1, (ctypes.c_uint32 * 1)(name))
        except Exception:
            return None
        return True

    @contextmanager
    def _in_contexts(
        self, records: list[LiveObject]
    ) -> Iterator[Callable[[LiveObject, Callable[[LiveObject], bool | None]], bool | None]]:
        """Runs per-record GL work with a context of the record's group current (None: none available)."""
        saved = _CurrentBinding.capture(self) if records else None
        cache: dict[tuple[bool, int], bool] = {}

        def run(record: LiveObject, work: Callable[[LiveObject], bool | None]) -> bool | None:
            shared = record.kind in _SHARED
            slot_key = (shared, record.context)
            usable = cache.get(slot_key)
            if usable is None:
                usable = cache[slot_key] = self._make_current_for(shared, record.context)
            if not usable:
                return None
            return work(record)

        try:
            with self.suspended():
                yield run
        finally:
            if saved is not None:
                saved.restore()

    def _make_current_for(self, shared: bool, context: int) -> bool:
        handle = self._current() or 0
        entry = self._contexts.get(handle)
        if entry is not None and (entry.group == context if shared else entry.handle == context):
            return True
        if shared:
            candidates = [self._contexts[h] for h in self._groups.get(context, ()) if h in self._contexts]
        else:
            candidates = [self._contexts[context]] if context in self._contexts else []
        for candidate in candidates:
            if candidate.make_current is None:
                continue
            try:
                candidate.make_current()
            except Exception:
                continue
            return True
        return False

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
        entry = self._entry()
        found: set[tuple[str, int]] = set()
        wanted = [kind for kind in (kinds or registry.KINDS) if kind not in ("sync",)]
        highest: dict[str, int] = {}
        for record in self._live.values():
            if record.name > highest.get(record.kind, 0) and record.kind != "sync":
                highest[record.kind] = record.name
        with self.suspended():
            for kind in wanted:
                query = _is_function(kind)
                if query is None:
                    continue
                for name in range(1, highest.get(kind, 0) + margin + 1):
                    try:
                        alive = bool(query(name))
                    except Exception:
                        break
                    if alive and self._key(kind, name, entry) not in self._live:
                        found.add((kind, name))
        return frozenset(found)

    def outside_since(
        self, before: frozenset[tuple[str, int]], kinds: Iterable[str] | None = None
    ) -> list[LiveObject]:
        """Objects the driver knows now but neither the ledger nor the sweep ``before`` did."""
        entry = self._entry()
        after = self.driver_sweep(kinds)
        records: list[LiveObject] = []
        for kind, name in sorted(after - before):
            context = entry.group if kind in _SHARED else entry.handle
            record = LiveObject(
                self._key(kind, name, entry),
                kind,
                context,
                self._seq,
                self.test,
                self.phase,
                "outside",
                sites.EMPTY_SITE,
                LIVE,
            )
            record.label = "created outside PyOpenGL"
            records.append(record)
        return records


@contextmanager
def _switched(ledger: Ledger, make_current: Callable[[], Any]) -> Iterator[None]:
    """Run with another context current, then put the previously current one back."""
    previous = _CurrentBinding.capture(ledger)
    try:
        make_current()
        yield
    finally:
        previous.restore()


class _CurrentBinding:
    """The context current in this thread (EGL or GLX), to put back after glIs* checks and cleanup."""

    def __init__(self, restore: Callable[[], None]) -> None:
        self._restore = restore

    def restore(self) -> None:
        """Put the captured binding back; never raises (its context or display may be gone by now)."""
        with suppress(Exception):
            self._restore()

    @staticmethod
    def capture(ledger: Ledger) -> _CurrentBinding:
        platform_name = type(_platform()).__name__.lower()
        try:
            if "egl" in platform_name:
                return _CurrentBinding._capture_egl()
            if "glx" in platform_name:
                return _CurrentBinding._capture_glx()
        except Exception:
            pass
        handle = ledger._current() or 0
        entry = ledger._contexts.get(handle)

        def restore_registered() -> None:
            if entry is not None and entry.make_current is not None and (ledger._current() or 0) != handle:
                with suppress(Exception):  # destroyed or terminated meanwhile: nothing to put back
                    entry.make_current()

        return _CurrentBinding(restore_registered)

    @staticmethod
    def _capture_egl() -> _CurrentBinding:
        egl = _egl_library()
        display = egl.eglGetCurrentDisplay()
        draw = egl.eglGetCurrentSurface(0x3059)
        read = egl.eglGetCurrentSurface(0x305A)
        context = egl.eglGetCurrentContext()

        def restore() -> None:
            if egl.eglGetCurrentContext() == context:
                return
            if context:
                egl.eglMakeCurrent(display, draw, read, context)
            else:
                current_display = egl.eglGetCurrentDisplay()
                if current_display:
                    egl.eglMakeCurrent(current_display, None, None, None)

        return _CurrentBinding(restore)

    @staticmethod
    def _capture_glx() -> _CurrentBinding:
        glx = _glx_library()
        display = glx.glXGetCurrentDisplay()
        draw = glx.glXGetCurrentDrawable()
        read = glx.glXGetCurrentReadDrawable()
        context = glx.glXGetCurrentContext()

        def restore() -> None:
            if glx.glXGetCurrentContext() == context:
                return
            if context:
                glx.glXMakeContextCurrent(display, draw, read, context)
            else:
                current_display = glx.glXGetCurrentDisplay()
                if current_display:
                    glx.glXMakeContextCurrent(current_display, 0, 0, None)

        return _CurrentBinding(restore)


_LIBRARIES: dict[str, Any] = {}


def _egl_library() -> Any:
    lib = _LIBRARIES.get("egl")
    if lib is None:
        import ctypes.util

        lib = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
        vp = ctypes.c_void_p
        for name, restype, argtypes in (
            ("eglGetCurrentDisplay", vp, []),
            ("eglGetCurrentSurface", vp, [ctypes.c_int32]),
            ("eglGetCurrentContext", vp, []),
            ("eglMakeCurrent", ctypes.c_uint32, [vp, vp, vp, vp]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        _LIBRARIES["egl"] = lib
    return lib


def _glx_library() -> Any:
    lib = _LIBRARIES.get("glx")
    if lib is None:
        import ctypes.util

        lib = ctypes.CDLL(ctypes.util.find_library("GL") or "libGL.so.1")
        vp = ctypes.c_void_p
        for name, restype, argtypes in (
            ("glXGetCurrentDisplay", vp, []),
            ("glXGetCurrentDrawable", ctypes.c_ulong, []),
            ("glXGetCurrentReadDrawable", ctypes.c_ulong, []),
            ("glXGetCurrentContext", vp, []),
            ("glXMakeContextCurrent", ctypes.c_int, [vp, ctypes.c_ulong, ctypes.c_ulong, vp]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        _LIBRARIES["glx"] = lib
    return lib


def _platform() -> Any:
    module = sys.modules.get("OpenGL.platform")
    return getattr(module, "PLATFORM", None)


def _no_context() -> int:
    return 0


_DELETERS = {
    "texture": "glDeleteTextures",
    "buffer": "glDeleteBuffers",
    "renderbuffer": "glDeleteRenderbuffers",
    "sampler": "glDeleteSamplers",
    "framebuffer": "glDeleteFramebuffers",
    "vertex_array": "glDeleteVertexArrays",
    "transform_feedback": "glDeleteTransformFeedbacks",
    "program_pipeline": "glDeleteProgramPipelines",
    "query": "glDeleteQueries",
    "shader": "glDeleteShader",
    "program": "glDeleteProgram",
    "sync": "glDeleteSync",
    "display_list": "glDeleteLists",
}
_GL_FUNCTIONS: dict[str, Any] = {}


_BOUND_VALUE = ctypes.c_int32()
_BOUND_POINTER = ctypes.pointer(_BOUND_VALUE)
_GET_INTEGER: list[Any] = []


def _bound_object(query: int) -> int:
    """glGetIntegerv(query) through a bare ctypes function: the name bound to a target now."""
    if not _GET_INTEGER:
        try:
            function = _platform().GL.glGetIntegerv
            function.restype = None
            function.argtypes = [ctypes.c_uint32, ctypes.POINTER(ctypes.c_int32)]
        except Exception:
            function = None
        _GET_INTEGER.append(function)
    function = _GET_INTEGER[0]
    if function is None:
        return 0
    _BOUND_VALUE.value = 0
    function(query, _BOUND_POINTER)
    return _BOUND_VALUE.value & 0xFFFFFFFF


_IS_FUNCTIONS: dict[str, Any] = {}


def _is_function(kind: str) -> Any:
    """The glIs* query of ``kind`` as a bare ctypes function (no PyOpenGL wrapper, no glGetError), or the
    raw PyOpenGL function where the GL library does not export it; None when neither exists."""
    try:
        return _IS_FUNCTIONS[kind]
    except KeyError:
        pass
    name = registry.IS_QUERY[kind]
    function: Any = None
    try:
        library = _platform().GL
        function = getattr(library, name)
        function.restype = ctypes.c_ubyte
        function.argtypes = [ctypes.c_void_p if kind == "sync" else ctypes.c_uint32]
    except Exception:
        function = _gl_function(name)
    _IS_FUNCTIONS[kind] = function
    return function


def _gl_function(name: str) -> Any:
    """The raw PyOpenGL function ``name`` (not hooked for glIs*, suspended for deletes), or None."""
    try:
        return _GL_FUNCTIONS[name]
    except KeyError:
        pass
    function = None
    try:
        import importlib

        for version in ("1_0", "1_1", "1_5", "2_0", "3_0", "3_2", "3_3", "4_0", "4_1"):
            module = importlib.import_module(f"OpenGL.raw.GL.VERSION.GL_{version}")
            candidate = getattr(module, name, None)
            if candidate is not None:
                function = candidate
                break
    except Exception:
        function = None
    try:
        if function is not None and not bool(function):
            function = None
    except Exception:
        function = None
    if function is not None:
        _GL_FUNCTIONS[name] = function
    return function


class LedgerView:
    """The per-test view behind the ``gl_ledger`` fixture: counts and live objects since the test began."""

    def __init__(self, ledger: Ledger, start_mark: int) -> None:
        self.ledger = ledger
        self.start_mark = start_mark

    def live(self, kind: str | None = None) -> list[LiveObject]:
        """Objects created during this test and alive now (any owner), oldest first."""
        return self.ledger.created_after(self.start_mark, kind)

    def created(self, kind: str | None = None) -> int:
        """How many objects (of ``kind``) were created during this test."""
        counts = self.ledger.created_since(self.start_mark)
        return sum(counts.values()) if kind is None else counts.get(kind, 0)

    def deleted(self, kind: str | None = None) -> int:
        """How many objects (of ``kind``) were deleted during this test."""
        counts = self.ledger.deleted_since(self.start_mark)
        return sum(counts.values()) if kind is None else counts.get(kind, 0)

    def mark(self) -> int:
        """A point to pass to :meth:`leaks_since` later in the test."""
        return self.ledger.mark()

    def leaks_since(self, mark: int, kinds: Iterable[str] | None = None) -> list[LiveObject]:
        """Objects created after ``mark`` by the test and still alive (confirmed with glIs*)."""
        return self.ledger.leaks_since(mark, kinds)

    def assert_no_leaks(self, kinds: Iterable[str] | None = None) -> None:
        """Raise AssertionError listing every object this test created and has not deleted."""
        leaked = self.ledger.leaks_since(self.start_mark, kinds)
        if leaked:
            raise AssertionError(format_gl_leaks(self.ledger.to_findings(leaked)))
