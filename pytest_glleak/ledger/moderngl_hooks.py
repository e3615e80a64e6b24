"""Hooks on moderngl's context creation, so objects made through moderngl join the ledger.

moderngl calls GL from C through the addresses its *loader* hands it (an object with
``load_opengl_function(name) -> int``, ``__enter__``, ``__exit__`` and ``release``): a glcontext backend
(``create_standalone_context``, ``create_context(standalone=True | share=True)``, detect mode) or the
``context=`` object of ``create_context``/``init_context``. Every loader moderngl receives is wrapped in
a :class:`LedgerLoader` that hands out recording trampolines (:mod:`~pytest_glleak.ledger.trampolines`)
for the create/delete/storage/label entry points, whatever the backend. Hook points, both looked up by
moderngl at call time: ``moderngl.mgl.create_context`` (the ``context=`` path) and glcontext's
``default_backend``/``get_backend_by_name`` (every other path). Contexts moderngl creates itself
(standalone, share) are registered with the ledger, in the share group of the context current at
creation for ``share=True``, and forgotten at ``ctx.release()``. The ``moderngl.Context`` factory
methods are wrapped too, only to label the record of what they made with its moderngl type and shape
(``moderngl.Texture 64x64 RGBA8``) when nothing labelled it already. No pytest imports.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from pytest_glleak import sites
from pytest_glleak.ledger.trampolines import Trampolines

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger

__all__ = ["LedgerLoader", "ModernglHooks"]

#: Context factory method -> the ledger kind of what it returns (the object's ``glo``).
_FACTORIES: dict[str, str] = {
    "texture": "texture",
    "texture_array": "texture",
    "texture3d": "texture",
    "texture_cube": "texture",
    "depth_texture": "texture",
    "depth_texture_cube": "texture",
    "buffer": "buffer",
    "framebuffer": "framebuffer",
    "simple_framebuffer": "framebuffer",
    "renderbuffer": "renderbuffer",
    "depth_renderbuffer": "renderbuffer",
    "program": "program",
    "compute_shader": "program",
    "vertex_array": "vertex_array",
    "simple_vertex_array": "vertex_array",
    "sampler": "sampler",
}
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
        """The address moderngl calls for ``name``: a trampoline for the entry points the ledger hooks."""
        return self._hooks.trampolines.address(name, int(self.inner.load_opengl_function(name) or 0))

    def load(self, name: str) -> int:
        """The same for moderngl versions that ask ``load(name)``."""
        return self._hooks.trampolines.address(name, int(self.inner.load(name) or 0))

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
        self._originals.update(self._wrap_factories(sys.modules["moderngl"].Context))
        self._originals[(mgl, "create_context")] = create_context
        mgl.create_context = create_context_hook
        self._moderngl_hooked = True

    def _wrap_factories(self, context_class: type) -> dict[tuple[Any, str], Any]:
        """Label what each factory method made (where nothing labelled it): its moderngl type."""
        ledger = self.ledger
        originals: dict[tuple[Any, str], Any] = {}
        for method_name, kind in _FACTORIES.items():
            original = context_class.__dict__.get(method_name)
            if original is None or not callable(original):
                continue

            def factory(*args: Any, __original: Any = original, __kind: str = kind, **kwargs: Any) -> Any:
                made = __original(*args, **kwargs)
                try:
                    name = made.glo
                    if type(name) is int and name > 0:
                        record = ledger._live.get(ledger._key(__kind, name, ledger._entry()))
                        if record is not None and record.label is None:
                            record.label = describe(made)
                except Exception:  # a label is a nicety: never break the user's call for it
                    pass
                return made

            factory.__name__ = method_name
            factory.__doc__ = getattr(original, "__doc__", None)
            originals[(context_class, method_name)] = original
            setattr(context_class, method_name, factory)
        return originals

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
                ledger.context_created(handle, group)
            elif owns:
                loader.owns = False  # the backend did not leave a new context current: not ours to end
            return loader

        return create

    def uninstall(self) -> None:
        """Put moderngl's and glcontext's own functions back; trampolines pass straight through."""
        for (module, attribute), original in self._originals.items():
            setattr(module, attribute, original)
        self._originals = {}
        self._glcontext_hooked = self._moderngl_hooked = False
        self.trampolines.detach()


def describe(made: Any) -> str:
    """``moderngl.Texture 64x64 RGBA8``, ``moderngl.Buffer 4096 bytes``: a moderngl object in words."""
    type_name = f"moderngl.{type(made).__name__}"
    size = getattr(made, "size", None)
    if type_name == "moderngl.Buffer" and isinstance(size, int):
        return f"{type_name} {size} bytes"
    parts = [type_name]
    if isinstance(size, tuple) and size:
        parts.append("x".join(str(extent) for extent in size))
    components = getattr(made, "components", None)
    dtype = getattr(made, "dtype", None)
    if getattr(made, "depth", False) is True:
        parts.append("DEPTH")
    elif isinstance(components, int) and isinstance(dtype, str) and components in _CHANNELS:
        parts.append(_CHANNELS[components] + _DTYPES.get(dtype, dtype))
    return " ".join(parts)
