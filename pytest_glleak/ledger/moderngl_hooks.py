"""Hooks on moderngl, so objects made through moderngl join the ledger.

Two layers. **moderngl's Python layer** records the common objects (textures, buffers, framebuffers,
renderbuffers, programs, vertex arrays, samplers): the ``moderngl.Context`` methods that make them record
the object's ``glo`` in the current context (the user's line as its site; its moderngl type and shape kept
for the label, ``moderngl.Texture 64x64 RGBA8``, and the bytes, both worked out only when asked), and each
class's ``release()`` ends the record (``__del__`` in gc_mode ``"auto"`` calls it; ``Context.gc()``, whose
releases happen in C, asks the driver which are gone). A ctypes callback per GL call would cost several
times moderngl's own call, so these kinds' entry points get no trampoline.

**The loader** records the rest (shaders, queries, syncs, labels, ...): moderngl calls GL from C through the
addresses its *loader* hands it (an object with ``load_opengl_function(name) -> int``, ``__enter__``,
``__exit__`` and ``release``): a glcontext backend (``create_standalone_context``,
``create_context(standalone=True | share=True)``, detect mode) or the ``context=`` object of
``create_context``/``init_context``. Every loader moderngl receives is wrapped in a :class:`LedgerLoader`
that hands out recording trampolines (:mod:`~pytest_glleak.ledger.trampolines`) for the other
create/delete/storage/label entry points, whatever the backend. Hook points, both looked up by moderngl at
call time: ``moderngl.mgl.create_context`` (the ``context=`` path) and glcontext's
``default_backend``/``get_backend_by_name`` (every other path). Contexts moderngl creates itself
(standalone, share) are registered with the ledger (with their ``__enter__`` to make them current for
``glIs*`` checks), in the share group of the context current at creation for ``share=True``, and
forgotten at ``ctx.release()``, taking their per-context objects with them. No pytest imports.
"""

from __future__ import annotations

import importlib
import itertools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_glleak import sites, speedups
from pytest_glleak.ledger import registry
from pytest_glleak.ledger.contexts import ContextEntry
from pytest_glleak.ledger.records import LIVE, NAMESPACE_BITS, SHARED, SLOT_SHIFT, LiveObject
from pytest_glleak.ledger.trampolines import Trampolines

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger

__all__ = ["PYTHON_LAYER", "LedgerLoader", "ModernglHooks", "ModernglObject"]

#: The ``moderngl.Context`` methods that make a GL object themselves (through ``self.mglo``); the others
#: (``simple_framebuffer``, ``vertex_array``, ...) call these.
_FACTORIES = (
    "buffer",
    "texture",
    "texture_array",
    "texture3d",
    "texture_cube",
    "depth_texture",
    "depth_texture_cube",
    "framebuffer",
    "empty_framebuffer",
    "renderbuffer",
    "depth_renderbuffer",
    "program",
    "compute_shader",
    "_vertex_array",
    "sampler",
)
#: moderngl object class -> the ledger kind of its ``glo``.
_CLASS_KINDS: dict[str, str] = {
    "Buffer": "buffer",
    "Texture": "texture",
    "TextureArray": "texture",
    "Texture3D": "texture",
    "TextureCube": "texture",
    "Framebuffer": "framebuffer",
    "Renderbuffer": "renderbuffer",
    "Program": "program",
    "ComputeShader": "program",
    "VertexArray": "vertex_array",
    "Sampler": "sampler",
}
#: Where a moderngl object keeps its ledger record (in its ``__dict__``), until ``release()``; one name per
#: hooks object, so that two ledgers (a nested in-process pytest run) keep their records apart. Numbered, not
#: named by ``id()``: how moderngl's own attribute lookups collide in the class's shared key table depends on
#: the names' hashes, so with a fixed ``PYTHONHASHSEED`` two runs then do the same work (instruction counts).
_RECORD_ATTRIBUTE = "_glleak_record_{}"
_HOOKS_NUMBERS = itertools.count(1)
#: Entry points of the kinds recorded at moderngl's Python layer: handed out as they are (no trampoline:
#: a ctypes callback per GL call would cost several times the call itself).
PYTHON_LAYER: frozenset[str] = frozenset(
    name
    for table in (registry.CREATE, registry.DELETE, registry.STORAGE)
    for name, entry in table.items()
    if entry[0] in frozenset(_CLASS_KINDS.values()) and (entry[0] != "program" or "Pipeline" not in name)
)
_ITEM_BYTES = {"1": 1, "2": 2, "4": 4}
_CHANNELS = {1: "R", 2: "RG", 3: "RGB", 4: "RGBA"}
_DTYPES = {"f1": "8", "f2": "16F", "f4": "32F", "u1": "8UI", "u2": "16UI", "u4": "32UI"}
_DTYPES.update({"i1": "8I", "i2": "16I", "i4": "32I"})

#: glcontext modes in which the backend creates (and at release destroys) a context of its own.
_OWNING_MODES = frozenset(["standalone", "share"])


class LedgerLoader:
    """A moderngl loader that hands out recording trampolines in place of the real entry points.

    ``owns``: the wrapped loader made its own context (destroyed at :meth:`release`).
    """

    def __init__(self, inner: Any, hooks: ModernglHooks, owns: bool) -> None:
        self.inner = inner
        self._hooks = hooks
        self.owns = owns
        #: The native handle of the context, once known (0: not yet).
        self.handle = 0

    def load_opengl_function(self, name: str) -> int:
        """The address moderngl calls for ``name``: a trampoline for the entry points the ledger hooks
        below moderngl's Python layer."""
        real = int(self.inner.load_opengl_function(name) or 0)
        return real if name in PYTHON_LAYER else self._hooks.trampolines.address(name, real)

    def load(self, name: str) -> int:
        """The same for moderngl versions that ask ``load(name)``."""
        real = int(self.inner.load(name) or 0)
        return real if name in PYTHON_LAYER else self._hooks.trampolines.address(name, real)

    def __enter__(self) -> Any:
        return self.inner.__enter__()

    def __exit__(self, *exc_info: Any) -> Any:
        return self.inner.__exit__(*exc_info)

    def release(self) -> Any:
        """Release the wrapped loader; a context it made ends, with its per-context objects."""
        try:
            return self.inner.release()
        finally:
            if self.owns and self.handle:
                self._hooks.ledger.context_destroyed(self.handle)
                self.handle = 0

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)


class ModernglHooks:
    """``moderngl.mgl.create_context`` and glcontext's backend factories replaced by wrapping versions."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.trampolines = Trampolines(ledger)
        self._originals: dict[tuple[Any, str], Any] = {}
        self._glcontext_hooked = False
        self._moderngl_hooked = False
        #: Exceptions raised while recording at moderngl's Python layer (kept away from user code).
        self.errors: list[BaseException] = []
        #: The C recorder's drain (see :meth:`Ledger._settle_counts`), while one is installed.
        self._drain: Callable[[], None] | None = None
        #: The attribute under which each moderngl object keeps its record.
        self.record_attribute = _RECORD_ATTRIBUTE.format(next(_HOOKS_NUMBERS))

    @property
    def installed(self) -> bool:
        """Whether moderngl's own hook points are replaced now (glcontext's may be, earlier)."""
        return self._moderngl_hooked

    def install(self) -> None:
        """Wrap glcontext's backend factories if glcontext is installed (it is cheap to import, and
        covers a moderngl imported later, inside a test), and moderngl's own hook points if something
        has imported moderngl. Each part is done once."""
        if not self._glcontext_hooked:
            self._hook_glcontext()
        if not self._moderngl_hooked and "moderngl" in sys.modules:
            self._hook_moderngl()

    def _hook_glcontext(self) -> None:
        try:
            import glcontext
        except ImportError:
            return
        hooks = self
        default_backend = glcontext.default_backend
        get_backend_by_name = glcontext.get_backend_by_name

        def default_backend_hook(*args: Any, **kwargs: Any) -> Any:
            return hooks.wrap_backend(default_backend(*args, **kwargs))

        def get_backend_by_name_hook(*args: Any, **kwargs: Any) -> Any:
            return hooks.wrap_backend(get_backend_by_name(*args, **kwargs))

        self.trampolines.attach()
        self._originals[(glcontext, "default_backend")] = default_backend
        self._originals[(glcontext, "get_backend_by_name")] = get_backend_by_name
        glcontext.default_backend = default_backend_hook
        glcontext.get_backend_by_name = get_backend_by_name_hook
        self._glcontext_hooked = True

    def _hook_moderngl(self) -> None:
        try:
            mgl: Any = importlib.import_module("moderngl.mgl")
        except ImportError:
            return
        hooks = self
        create_context = mgl.create_context

        def create_context_hook(*args: Any, **kwargs: Any) -> Any:
            loader = kwargs.get("context")
            if loader is not None and not isinstance(loader, LedgerLoader):
                wrapped = LedgerLoader(loader, hooks, owns=False)
                kwargs["context"] = wrapped
                result = create_context(*args, **kwargs)
                wrapped.handle = int(hooks.ledger._current() or 0)
                return result
            return create_context(*args, **kwargs)

        self.trampolines.attach()
        self._originals.update(self._wrap_factories(sys.modules["moderngl"]))
        self._originals[(mgl, "create_context")] = create_context
        mgl.create_context = create_context_hook
        self._moderngl_hooked = True

    def _wrap_factories(self, module: Any) -> dict[tuple[Any, str], Any]:
        """Record at moderngl's Python layer: what each factory method made, and its ``release()``.

        A factory records the object's ``glo`` in the current context (the user's line as its site, its
        moderngl type and shape kept for the label and bytes, both worked out only when asked), and keeps
        the record on the object; ``release()`` (also run by ``__del__`` in gc_mode ``"auto"``) ends it;
        ``Context.gc()`` (gc_mode ``"context_gc"``, whose releases happen in C) asks the driver which of
        the context's moderngl objects are gone.
        """
        ledger = self.ledger
        add = ledger._add
        live = ledger._live
        deleted = ledger._deleted
        interceptor = ledger.interceptor
        guard = interceptor.guard if interceptor is not None else None
        kinds: dict[type, str] = {}
        for class_name, kind in _CLASS_KINDS.items():
            object_class = getattr(module, class_name, None)
            if isinstance(object_class, type):
                kinds[object_class] = kind
        getframe = sys._getframe
        attribute = self.record_attribute
        originals: dict[tuple[Any, str], Any] = {}
        context_class = module.Context
        accelerator: Any = speedups.native
        native = self._native_recorder(accelerator, kinds, attribute)
        for method_name in _FACTORIES:
            original = context_class.__dict__.get(method_name)
            if original is None or not callable(original):
                continue
            originals[(context_class, method_name)] = original
            if native is not None:
                setattr(context_class, method_name, accelerator.Factory(original, native))
                continue

            def factory(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
                made = __original(*args, **kwargs)
                try:
                    fields = made.__dict__
                    name = fields.get("_glo")
                    kind = kinds.get(type(made))
                    if kind is not None and type(name) is int and name > 0 and not (guard and guard.depth):
                        record: Any = add(kind, (name,), LIVE, getframe(1), ModernglObject)
                        if record is not None:
                            record.storage = (
                                type(made).__name__,
                                fields.get("_size"),
                                fields.get("_components"),
                                fields.get("_dtype"),
                                fields.get("_depth"),
                                fields.get("_samples"),
                            )
                            fields[attribute] = record
                except Exception as exc:  # a record must never break the user's call
                    self.errors.append(exc)
                return made

            factory.__name__ = method_name
            factory.__qualname__ = f"Context.{method_name}"
            factory.__doc__ = getattr(original, "__doc__", None)
            setattr(context_class, method_name, factory)

        for object_class in kinds:
            original = object_class.__dict__.get("release")
            if original is None or not callable(original):
                continue
            originals[(object_class, "release")] = original
            if native is not None:
                setattr(object_class, "release", accelerator.Release(original, native))  # noqa: B010
                continue

            def release(made: Any, __original: Any = original) -> None:
                # The record stays on the object: a second release() no longer finds it live.
                record: Any = made.__dict__.get(attribute)
                __original(made)
                if record is not None:
                    key, kind = record.key, record.kind
                    if live.get(key) is record:
                        del live[key]
                        deleted[kind] += 1

            release.__name__ = "release"
            release.__qualname__ = f"{object_class.__name__}.release"
            release.__doc__ = getattr(original, "__doc__", None)
            setattr(object_class, "release", release)  # noqa: B010  (a class mypy knows only as type)

        gc = context_class.__dict__.get("gc")
        if gc is not None and callable(gc):

            def collect(context: Any, __original: Any = gc) -> Any:
                count = __original(context)
                if count:
                    self.forget_collected()
                return count

            collect.__name__ = "gc"
            collect.__doc__ = getattr(gc, "__doc__", None)
            originals[(context_class, "gc")] = gc
            context_class.gc = collect

        buffer_class: Any = getattr(module, "Buffer", None)
        orphan = getattr(buffer_class, "__dict__", {}).get("orphan")
        if orphan is not None and callable(orphan):

            def resize(buffer: Any, size: int = -1, __original: Any = orphan) -> None:
                __original(buffer, size)
                record = buffer.__dict__.get(attribute)
                if record is not None and type(record.storage) is tuple and size >= 0:
                    record.storage = (record.storage[0], size, *record.storage[2:])

            resize.__name__ = "orphan"
            resize.__doc__ = getattr(orphan, "__doc__", None)
            originals[(buffer_class, "orphan")] = orphan
            buffer_class.orphan = resize
        return originals

    def _native_recorder(self, native: Any, kinds: dict[type, str], attribute: str) -> Any:
        """The C accelerator's recorder for these classes (the same records as the Python wrappers, for
        a fraction of their cost), or None where it is not built."""
        if native is None:
            return None
        ledger = self.ledger
        interceptor = ledger.interceptor
        table = {
            object_class: (kind, kind in SHARED, NAMESPACE_BITS[kind], object_class.__name__)
            for object_class, kind in kinds.items()
        }
        recorder = native.Recorder(
            ledger=ledger,
            current=ledger._current,
            kinds=table,
            contexts=ledger._contexts,
            register=ledger._register,
            live=ledger._live,
            created=ledger._created,
            deleted=ledger._deleted,
            next_seq=getattr(ledger._next_seq, "__self__", ledger._next_seq),  # the count, not its __next__
            record_type=ModernglObject,
            attribute=attribute,
            suspended=interceptor._suspended if interceptor is not None else None,
            errors=self.errors,
            state=LIVE,
            entry_type=ContextEntry,
        )
        # It counts in C: the ledger adds its counts to its own before reading them.
        self._drain = recorder.drain
        ledger._drains.append(self._drain)
        return recorder

    def forget_collected(self) -> None:
        """After ``Context.gc()``: the current context's moderngl objects the driver no longer knows."""
        ledger = self.ledger
        entry = ledger._entry()
        slots = (entry.own_slot, entry.group_slot)
        live = ledger._live
        for key, record in list(live.items()):
            if type(record) is ModernglObject and key >> SLOT_SHIFT in slots:
                if not ledger._still_exists(record.kind, record.name) and live.get(key) is record:
                    del live[key]
                    ledger._deleted[record.kind] += 1

    def wrap_backend(self, backend: Any) -> Any:
        """A glcontext backend factory whose contexts are :class:`LedgerLoader` objects."""
        if not callable(backend):
            return backend
        ledger = self.ledger

        def create(*args: Any, **kwargs: Any) -> Any:
            if not self._moderngl_hooked and "moderngl" in sys.modules:
                # moderngl was imported after the last check (inside a test): hook it now, and let
                # creation sites skip its frames.
                self._hook_moderngl()
                sites.refresh_skipped()
            mode = kwargs.get("mode", "detect")
            parent = int(ledger._current() or 0)
            inner = backend(*args, **kwargs)
            owns = mode in _OWNING_MODES
            loader = LedgerLoader(inner, self, owns=owns)
            handle = int(ledger._current() or 0)
            loader.handle = handle
            if owns and handle and handle != parent:
                group = None
                if mode == "share" and parent:
                    known = ledger._contexts.get(parent) or ledger._register(parent, None)
                    group = known.group
                # glcontext's __enter__ makes its context current: the ledger can ask glIs* there.
                ledger.context_created(handle, group, getattr(inner, "__enter__", None))
            elif owns:
                loader.owns = False  # the backend did not leave a new context current: not ours to end
            return loader

        return create

    def uninstall(self) -> None:
        """Put moderngl's and glcontext's own functions back; trampolines pass straight through."""
        for (module, attribute), original in self._originals.items():
            setattr(module, attribute, original)
        self._originals = {}
        if self._drain is not None:  # the C recorder's last counts
            self._drain()
            self.ledger._drains.remove(self._drain)
            self._drain = None
        self._glcontext_hooked = self._moderngl_hooked = False
        self.trampolines.detach()


class ModernglObject(LiveObject):
    """A record made at moderngl's Python layer. Its ``storage`` holds the moderngl object's type and
    shape (see :func:`describe`), from which its label and bytes are worked out when first asked."""

    __slots__ = ("_label",)

    @property
    def label(self) -> str | None:
        """A label the program set, else the moderngl type and shape (``moderngl.Texture 64x64 RGBA8``)."""
        if self._label is None and type(self.storage) is tuple:
            return describe(*self.storage)
        return self._label

    @label.setter
    def label(self, value: str | None) -> None:
        self._label = value

    @property
    def nbytes(self) -> int:
        """Estimated GPU bytes, from the moderngl object's shape."""
        return estimate_bytes(*self.storage) if type(self.storage) is tuple else 0


def describe(
    type_name: str, size: Any, components: Any, dtype: Any, depth: Any = False, samples: Any = 0
) -> str:
    """``moderngl.Texture 64x64 RGBA8``, ``moderngl.Buffer 4096 bytes``: a moderngl object in words."""
    type_name = f"moderngl.{type_name}"
    if type_name == "moderngl.Buffer" and isinstance(size, int):
        return f"{type_name} {size} bytes"
    parts = [type_name]
    if isinstance(size, tuple) and size:
        parts.append("x".join(str(extent) for extent in size))
    if depth is True:
        parts.append("DEPTH")
    elif isinstance(components, int) and isinstance(dtype, str) and components in _CHANNELS:
        parts.append(_CHANNELS[components] + _DTYPES.get(dtype, dtype))
    return " ".join(parts)


def estimate_bytes(
    type_name: str, size: Any, components: Any, dtype: Any, depth: Any = False, samples: Any = 0
) -> int:
    """Bytes of a moderngl object's storage, from its shape (level 0; 0 for objects without storage)."""
    if type_name == "Buffer":
        return size if isinstance(size, int) else 0
    if not isinstance(size, tuple) or not size:
        return 0
    texels = 1
    for extent in size:
        texels *= int(extent)
    if type_name == "TextureCube":
        texels *= 6
    if depth is True:
        texel = 4
    elif isinstance(components, int) and isinstance(dtype, str):
        texel = components * _ITEM_BYTES.get(dtype[-1:], 1)
    else:
        return 0
    return texels * texel * max(int(samples or 0), 1)
