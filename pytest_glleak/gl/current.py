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
        surfaces = (egl.eglGetCurrentSurface(_EGL_DRAW), egl.eglGetCurrentSurface(_EGL_READ))
        return CurrentBinding._capture_native(
            egl.eglGetCurrentDisplay, egl.eglGetCurrentContext, egl.eglMakeCurrent, surfaces, (None, None)
        )

    @staticmethod
    def _capture_glx() -> CurrentBinding:
        glx = glx_library()
        surfaces = (glx.glXGetCurrentDrawable(), glx.glXGetCurrentReadDrawable())
        return CurrentBinding._capture_native(
            glx.glXGetCurrentDisplay, glx.glXGetCurrentContext, glx.glXMakeContextCurrent, surfaces, (0, 0)
        )

    @staticmethod
    def _capture_native(
        current_display: Callable[[], Any],
        current_context: Callable[[], Any],
        make_current: Callable[..., Any],
        surfaces: tuple[Any, Any],
        no_surfaces: tuple[Any, Any],
    ) -> CurrentBinding:
        """The binding of this thread through a window-system API (EGL or GLX: the same four calls).

        ``surfaces``: the current draw and read surfaces; ``no_surfaces``: what that API takes for none.
        Restoring releases the current context when there was none.
        """
        display = current_display()
        context = current_context()

        def restore() -> None:
            if current_context() == context:
                return
            if context:
                make_current(display, *surfaces, context)
            else:
                now = current_display()
                if now:
                    make_current(now, *no_surfaces, None)

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
