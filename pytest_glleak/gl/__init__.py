"""Offscreen OpenGL contexts behind one small interface. No pytest imports in this package.

``create_context()`` is the one entry point: the ``gl_context`` fixture, ``gl_context_factory`` and the
example project's command line all create their contexts through it.
"""

from __future__ import annotations

import os
import sys

from pytest_glleak.gl.base import ContextUnavailable, GLContext

__all__ = [
    "ContextUnavailable",
    "GLContext",
    "PlatformMismatch",
    "choose_pyopengl_platform",
    "create_context",
    "pyopengl_platform",
]


class PlatformMismatch(ContextUnavailable):
    """PyOpenGL was loaded for a window system that cannot see the chosen backend's contexts."""


def pyopengl_platform() -> str | None:
    """The PyOpenGL platform in force: the loaded one, else ``PYOPENGL_PLATFORM``, else None."""
    module = sys.modules.get("OpenGL.platform")
    loaded = getattr(module, "PLATFORM", None) if module is not None else None
    if loaded is not None:
        name = type(loaded).__name__.lower()
        for key in ("egl", "glx", "osmesa", "win32", "darwin"):
            if key in name:
                return key
        return name
    value = os.environ.get("PYOPENGL_PLATFORM", "").strip().lower()
    return value or None


def _platform_for(backend: str) -> str:
    if backend == "glfw" and os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return "glx"
    return "egl"


def choose_pyopengl_platform(backend: str) -> str | None:
    """Set ``PYOPENGL_PLATFORM`` for ``backend`` unless the user (or an import) already fixed it.

    Returns the platform now in force. Must run before any ``import OpenGL.GL``.
    """
    current = pyopengl_platform()
    if current is not None:
        return current
    if not sys.platform.startswith("linux"):
        return None
    chosen = _platform_for(backend)
    os.environ["PYOPENGL_PLATFORM"] = chosen
    return chosen


def _check_platform(backend: str) -> None:
    platform = pyopengl_platform()
    if backend == "egl" and platform not in (None, "egl"):
        source = "loaded" if "OpenGL.platform" in sys.modules else "set by PYOPENGL_PLATFORM"
        raise PlatformMismatch(
            f"PyOpenGL's platform is {platform!r} ({source} before pytest-glleak could choose), and "
            "PyOpenGL cannot see EGL contexts then: set PYOPENGL_PLATFORM=egl, or unset it and let the "
            "plugin choose, or use --glleak-backend=glfw"
        )


def create_context(
    backend: str = "auto",
    *,
    profile: str = "core",
    version: tuple[int, int] | None = None,
    size: tuple[int, int] = (256, 256),
    share_with: GLContext | None = None,
) -> GLContext:
    """Create an offscreen context, current in the calling thread on return.

    ``backend`` is ``"egl"``, ``"glfw"`` or ``"auto"`` (egl, then glfw). ``share_with`` shares objects
    with an existing context (same backend). Raises :class:`ContextUnavailable` with every backend's
    reason when none works.
    """
    width, height = size
    if share_with is not None:
        backend = "glfw" if share_with.backend == "glfw" else "egl"
    order = ["egl", "glfw"] if backend == "auto" else [backend]
    failures: list[str] = []
    for name in order:
        try:
            if name == "egl":
                _check_platform("egl")
                from pytest_glleak.gl.egl import create_egl_context

                return create_egl_context(
                    profile=profile, version=version, width=width, height=height, share_with=share_with
                )
            from pytest_glleak.gl.glfw_window import create_glfw_context

            return create_glfw_context(
                profile=profile, version=version, width=width, height=height, share_with=share_with
            )
        except PlatformMismatch as exc:
            if backend != "auto":
                raise
            failures.append(f"egl: {exc}")
        except ContextUnavailable as exc:
            failures.append(f"{name}: {exc}")
    raise ContextUnavailable("no OpenGL context could be created. " + " | ".join(failures))
