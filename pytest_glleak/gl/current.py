"""Save and restore the context current in this thread (EGL or GLX), around the plugin's own GL work.

The ledger makes other contexts current for glIs* checks, cleanup deletes and to learn a glfw window's
context handle; this puts the user's binding (display, draw and read surfaces, context) back afterwards.
Restoring never raises: the captured context or display may have been destroyed or terminated meanwhile.
No pytest imports here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any, Protocol

from pytest_glleak.gl.egl import egl_library

__all__ = ["CurrentBinding", "Registered", "glx_library", "switched"]

_EGL_DRAW = 0x3059
_EGL_READ = 0x305A


class Registered(Protocol):
    """A context the caller knows how to make current again (the fallback when EGL/GLX is unknown)."""

    make_current: Callable[[], Any] | None


class CurrentBinding:
    """The context current in this thread (EGL or GLX), to put back after glIs* checks and cleanup."""

    def __init__(self, restore: Callable[[], None]) -> None:
        self._restore = restore

    def restore(self) -> None:
        """Put the captured binding back; never raises (its context or display may be gone by now)."""
        with suppress(Exception):
            self._restore()

    @staticmethod
    def capture(current: Callable[[], Any], registered: Mapping[int, Registered]) -> CurrentBinding:
        """Capture the binding through EGL or GLX (as PyOpenGL's platform says); on another platform,
        ``current()`` (the current native handle) and the ``registered`` context of that handle."""
        platform_name = type(_platform()).__name__.lower()
        try:
            if "egl" in platform_name:
                return CurrentBinding._capture_egl()
            if "glx" in platform_name:
                return CurrentBinding._capture_glx()
        except Exception:
            pass
        handle = current() or 0
        entry = registered.get(handle)

        def restore_registered() -> None:
            if entry is not None and entry.make_current is not None and (current() or 0) != handle:
                with suppress(Exception):  # destroyed or terminated meanwhile: nothing to put back
                    entry.make_current()

        return CurrentBinding(restore_registered)

    @staticmethod
    def _capture_egl() -> CurrentBinding:
        egl = egl_library()
        display = egl.eglGetCurrentDisplay()
        draw = egl.eglGetCurrentSurface(_EGL_DRAW)
        read = egl.eglGetCurrentSurface(_EGL_READ)
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

        return CurrentBinding(restore)

    @staticmethod
    def _capture_glx() -> CurrentBinding:
        glx = glx_library()
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

        return CurrentBinding(restore)


@contextmanager
def switched(
    current: Callable[[], Any], registered: Mapping[int, Registered], make_current: Callable[[], Any]
) -> Iterator[None]:
    """Run with another context current, then put the previously current one back."""
    previous = CurrentBinding.capture(current, registered)
    try:
        make_current()
        yield
    finally:
        previous.restore()


_GLX: list[Any] = []


def glx_library() -> Any:
    """libGL's GLX current-context entry points, typed once per process."""
    if not _GLX:
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
        _GLX.append(lib)
    return _GLX[0]


def _platform() -> Any:
    module = sys.modules.get("OpenGL.platform")
    return getattr(module, "PLATFORM", None)
