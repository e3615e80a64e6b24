"""Hooks on PyOpenGL's raw function objects: every call path to a hooked entry point, seen once.

Why the raw function's class: each raw entry point (``OpenGL.raw.GL.VERSION.GL_1_1.glGenTextures``) is a
``_NullFunctionPointer`` that is the only instance of its own class, and every other path (``OpenGL.GL``,
``from OpenGL.GL import *``, names imported before install, ``OpenGL.GL.ARB.*``, the Python and Cython
wrappers of PyOpenGL-accelerate) ends in a call of that instance. Replacing ``type(raw).__call__`` thus
sees every reference to it, however early it was imported.

PyOpenGL resolves the C function lazily: ``load()`` (run by the first call or by ``bool(raw)``) rewrites
the class's ``__call__``. Instead of forcing ``load()`` (which needs a current context for extension
entry points) the hook overrides ``load`` on the same class, so the rewrite is caught and the hook put
back on top of the resolved function.

Modules imported after install: raw modules create their functions through ``OpenGL.platform
.createFunction``, looked up on the module at call time, so wrapping that one function hooks every later
import (an ``OpenGL.GL.EXT`` module imported mid-test included) with no rescans and no import hooks.

One user call produces one record: GL calls a handler makes, and the second call an unresolved function
makes of itself once loaded, run with their thread suspended, and calls in a suspended thread pass straight
through. The hot path pays for this only with a test of an (almost always empty) dict: the thread's
identity is asked only while some thread is suspended or inside a handler.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

#: A recording function: ``handler(args, result)``, run after the GL call returned.
Handler = Callable[[tuple[Any, ...], Any], None]

# The base class of every ctypes foreign function (not exported under a public name).
_CFunction: type = ctypes.CFUNCTYPE(None).__mro__[1]

#: The prefix of PyOpenGL's raw modules: only their objects are hooked.
RAW_PREFIXES = ("OpenGL.raw.GL.", "OpenGL.raw.EGL.", "OpenGL.raw.GLX.")


class Guard(threading.local):
    """Suspension depth of one interceptor, per thread, as the bindings' trampolines (moderngl, pyglet)
    read it; the PyOpenGL hooks read the interceptor's own table of suspended threads."""

    depth = 0


class _Hook:
    """One hooked class: what to restore on uninstall."""

    __slots__ = ("cls", "had_call", "hook", "previous_call", "previous_load", "raw", "real")

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.cls: type = type(raw)
        self.had_call = "__call__" in self.cls.__dict__
        self.previous_call: Any = self.cls.__dict__.get("__call__")
        # Another interceptor (a nested in-process pytest run) may have hooked the class already.
        self.previous_load: Any = self.cls.__dict__.get("load")
        self.hook: Any = None
        self.real: Callable[[], Callable[..., Any] | None] = lambda: None


class Interceptor:
    """Installs ``handlers`` (entry point name -> handler) on PyOpenGL's raw functions.

    ``install()`` hooks every raw function already created and every one created later;
    ``uninstall()`` restores each class exactly as it was (a function resolved meanwhile keeps its
    resolution). Handler errors never reach user code: they are kept in :attr:`errors`.
    """

    def __init__(self, handlers: Mapping[str, Handler]) -> None:
        self.handlers = dict(handlers)
        #: Suspension depth per thread, as the bindings' trampolines read it (``guard.depth``).
        self.guard = Guard()
        # The same, as {thread ident: depth}: the hooks' hot path tests the (mostly empty) dict first.
        self._suspended: dict[int, int] = {}
        #: The first exceptions raised inside handlers (at most 100 kept); :attr:`error_count` counts all.
        self.errors: list[BaseException] = []
        self.error_count = 0
        self.installed = False
        self._hooks: dict[type, _Hook] = {}
        self._original_create: Callable[..., Any] | None = None
        self._null_base: type | None = None

    # --- public -------------------------------------------------------------------------------
    def install(self) -> None:
        """Hook every matching raw function now and every one created from now on."""
        if self.installed:
            return
        import sys

        import OpenGL.platform as platform
        from OpenGL.platform.baseplatform import _NullFunctionPointer

        self._null_base = _NullFunctionPointer
        self.installed = True
        original = platform.createFunction
        self._original_create = original

        @functools.wraps(original)
        def create_function(*args: Any, **kwargs: Any) -> Any:
            raw = original(*args, **kwargs)
            handler = self.handlers.get(getattr(raw, "__name__", ""))
            if handler is not None and self.installed:
                self._hook(raw, handler)
            return raw

        platform.createFunction = create_function
        for module_name, module in list(sys.modules.items()):
            if module is None or not module_name.startswith(RAW_PREFIXES):
                continue
            namespace = getattr(module, "__dict__", {})
            for function_name, handler in self.handlers.items():
                raw = namespace.get(function_name)
                if raw is not None:
                    self._hook(raw, handler)

    def uninstall(self) -> None:
        """Remove every hook and the ``createFunction`` wrapper."""
        if not self.installed:
            return
        self.installed = False
        import OpenGL.platform as platform

        if self._original_create is not None:
            platform.createFunction = self._original_create
            self._original_create = None
        for hook in self._hooks.values():
            cls = hook.cls
            real = hook.real()
            if hook.previous_load is not None:
                type.__setattr__(cls, "load", hook.previous_load)
            elif "load" in cls.__dict__:
                delattr(cls, "load")
            current = cls.__dict__.get("__call__")
            if isinstance(current, staticmethod) and current.__func__ is hook.hook.__func__:
                previous = hook.previous_call
                if real is not None:
                    # Put back the very descriptor found at install when it still holds `real`, so an
                    # outer interceptor (whose hook `real` may be) recognises its own on uninstall.
                    keep = isinstance(previous, staticmethod) and previous.__func__ is real
                    type.__setattr__(cls, "__call__", previous if keep else staticmethod(real))
                elif not hook.had_call:
                    delattr(cls, "__call__")
        self._hooks.clear()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Calls made inside, in this thread, are not recorded (the plugin's own cleanup and glIs*
        probes, the nested call of a function's first load)."""
        guard = self.guard
        saved = guard.depth
        guard.depth = saved + 1
        table = self._suspended
        ident = threading.get_ident()
        table[ident] = table.get(ident, 0) + 1
        try:
            yield
        finally:
            guard.depth = saved
            depth = table.get(ident, 1) - 1
            if depth > 0:
                table[ident] = depth
            else:
                table.pop(ident, None)

    def hooked(self) -> list[Any]:
        """The raw function objects hooked so far."""
        return [hook.raw for hook in self._hooks.values()]

    def is_hooked(self, raw: Any) -> bool:
        """Whether ``raw`` (a raw PyOpenGL function object) carries this interceptor's hook."""
        hook = self._hooks.get(type(raw))
        return hook is not None and type(raw).__dict__.get("__call__") is hook.hook

    # --- the hook -----------------------------------------------------------------------------
    def _hook(self, raw: Any, handler: Handler) -> None:
        null_base = self._null_base
        if null_base is None or not isinstance(raw, null_base):
            return
        cls = type(raw)
        if cls in self._hooks or cls is null_base:
            return
        record = _Hook(raw)
        errors = self.errors
        base_load = next(base.__dict__["load"] for base in cls.__mro__ if "load" in base.__dict__)
        base_call = next(base.__dict__["__call__"] for base in cls.__mro__[1:] if "__call__" in base.__dict__)
        existing = cls.__dict__.get("__call__")
        real: Callable[..., Any] | None = existing.__func__ if isinstance(existing, staticmethod) else None
        # Until PyOpenGL resolves the function, the inherited __call__ loads it (through the load()
        # override below, which installs the resolved function as `target`) and calls again.
        target: Callable[..., Any] = real if real is not None else functools.partial(base_call, raw)
        arg_names: tuple[str, ...] = tuple(getattr(raw, "argNames", ()) or ())

        suspended_threads = self._suspended
        get_ident = threading.get_ident
        if real is None:
            # The first call loads the function and calls again (the hook, now on top of the resolved
            # function): that inner call is this thread's, suspended, so one user call is one record.
            def first_call(*args: Any, **kwargs: Any) -> Any:
                with self_hook.suspended():
                    return unresolved(*args, **kwargs)

            unresolved = target
            target = first_call
        else:
            target = _direct(real)

        def hooked_call(*args: Any, **kwargs: Any) -> Any:
            # The hot path: no thread-local read unless some thread is suspended, no keyword dict passed
            # on when there are no keywords, the C function called without its method-wrapper.
            if suspended_threads and get_ident() in suspended_threads:
                return target(*args, **kwargs)
            if kwargs:
                result = target(*args, **kwargs)
                args = _merge(args, kwargs, arg_names)
            else:
                result = target(*args)
            # GL calls the handler makes (in this thread) are not recorded: the thread is suspended.
            ident = get_ident()
            suspended_threads[ident] = 1
            try:
                handler(args, result)
            except Exception as exc:  # a ledger bug must never break the user's GL call
                self_hook.error_count += 1
                if len(errors) < 100:
                    errors.append(exc)
            finally:
                del suspended_threads[ident]
            return result

        hook_descriptor = staticmethod(hooked_call)

        def load(self: Any) -> Any:
            nonlocal target, real
            func = base_load(self)
            if func is not None:
                current = cls.__dict__.get("__call__")
                if current is not hook_descriptor:
                    real = current.__func__ if isinstance(current, staticmethod) else func.__call__
                    target = _direct(real)
                    if self_hook.installed:
                        type.__setattr__(cls, "__call__", hook_descriptor)
            return func

        self_hook = self
        record.hook = hook_descriptor
        record.real = lambda: real
        type.__setattr__(cls, "load", load)
        type.__setattr__(cls, "__call__", hook_descriptor)
        self._hooks[cls] = record


def _direct(call: Callable[..., Any]) -> Callable[..., Any]:
    """The ctypes function itself for its bound ``__call__`` (PyOpenGL installs ``func.__call__``):
    calling it directly skips the method-wrapper's extra call."""
    owner = getattr(call, "__self__", None)
    if owner is not None and type(call).__name__ == "method-wrapper" and isinstance(owner, _CFunction):
        return cast("Callable[..., Any]", owner)
    return call


def _merge(args: tuple[Any, ...], kwargs: dict[str, Any], arg_names: tuple[str, ...]) -> tuple[Any, ...]:
    merged = list(args)
    for name in arg_names[len(args) :]:
        if name not in kwargs:
            break
        merged.append(kwargs[name])
    return tuple(merged)
