"""A hidden glfw window as an offscreen GL context (X11 or Wayland; Xvfb on CI)."""

from __future__ import annotations

import ctypes
import os
from typing import Any

from pytest_glleak.gl.base import CORE_VERSIONS, ContextUnavailable, GLContext, ProcLoader

INSTALL_HINT = (
    "the glfw backend needs a display: run under Xvfb (Debian/Ubuntu: apt-get install xvfb, then "
    "xvfb-run -a pytest ...) or use the default headless backend, --glleak-backend=egl"
)

_initialised: list[Any] = []


def _address(pointer: Any) -> int:
    # glfw hands out ctypes pointer objects; two of them for one window compare unequal.
    return int(ctypes.cast(pointer, ctypes.c_void_p).value or 0) if pointer else 0


def _glfw() -> Any:
    """Import and initialise glfw once per process."""
    if _initialised:
        return _initialised[0]
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        raise ContextUnavailable(f"no DISPLAY or WAYLAND_DISPLAY is set; {INSTALL_HINT}")
    try:
        import glfw
    except (ImportError, OSError) as exc:  # pragma: no cover - glfw is a dependency
        raise ContextUnavailable(f"glfw could not be loaded ({exc})") from exc
    messages: list[str] = []
    glfw.set_error_callback(lambda code, text: messages.append(f"{text!r} (0x{code:x})"))
    if not glfw.init():
        raise ContextUnavailable(
            f"glfw.init() failed: {'; '.join(messages) or 'no reason given'}; {INSTALL_HINT}"
        )
    _initialised.append(glfw)
    return glfw


def _context_api(glfw: Any) -> int:
    # PyOpenGL sees only contexts of its own platform, so the window's context API follows it.
    platform = os.environ.get("PYOPENGL_PLATFORM", "").lower()
    return int(glfw.EGL_CONTEXT_API if platform == "egl" else glfw.NATIVE_CONTEXT_API)


class GLFWContext(GLContext):
    """The context of a hidden glfw window; its default framebuffer is the window's back buffer."""

    def __init__(
        self,
        *,
        profile: str,
        version: tuple[int, int] | None,
        width: int,
        height: int,
        share_with: GLFWContext | None = None,
    ) -> None:
        glfw = _glfw()
        self._glfw = glfw
        self._requested_profile = profile
        self._requested_version = version
        window, made = self._build(profile, version, width, height, share_with)
        self._window: Any = window
        super().__init__(
            backend="glfw",
            profile=profile,
            width=width,
            height=height,
            loader=ProcLoader(lambda name: int(glfw.get_proc_address(name) or 0)),
            share_group=share_with.share_group if share_with is not None else None,
        )
        self.device = "x11" if os.environ.get("DISPLAY") else "wayland"
        self.make_current()
        self._finish_init(needs_fbo=False, requested=made)

    def _build(
        self,
        profile: str,
        version: tuple[int, int] | None,
        width: int,
        height: int,
        share_with: GLFWContext | None,
    ) -> tuple[Any, tuple[int, int] | None]:
        glfw = self._glfw
        candidates: list[tuple[int, int] | None] = [version] if version else list(CORE_VERSIONS)
        if profile == "compat" and not version:
            candidates.append(None)
        for candidate in candidates:
            glfw.default_window_hints()
            glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
            glfw.window_hint(glfw.CONTEXT_CREATION_API, _context_api(glfw))
            if candidate is not None:
                glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, candidate[0])
                glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, candidate[1])
                if candidate >= (3, 2):
                    glfw.window_hint(
                        glfw.OPENGL_PROFILE,
                        glfw.OPENGL_CORE_PROFILE if profile == "core" else glfw.OPENGL_COMPAT_PROFILE,
                    )
                if profile == "core":
                    glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, glfw.TRUE)
            share = share_with._window if share_with is not None else None
            window = glfw.create_window(width, height, "pytest-glleak", None, share)
            if window:
                return window, candidate
        raise ContextUnavailable(
            f"glfw could not create a hidden window with a {profile} OpenGL context "
            f"({f'{version[0]}.{version[1]}' if version else '3.3 or newer'})"
        )

    def lost(self) -> str | None:
        """ "glfw was terminated" after foreign ``glfw.terminate()`` (the window died with it), else None."""
        # Any glfw call needs glfw initialised; the raw timer is never 0 otherwise.
        try:
            if self._glfw.get_timer_value() == 0:
                return "glfw was terminated"
        except Exception as exc:  # a project's glfw.ERROR_REPORTING = "raise" with glfw terminated
            return f"glfw was terminated ({exc})"
        return None

    def _rebuild(self) -> None:
        if self.lost() is not None:
            _initialised.clear()
        self._glfw = _glfw()
        self._window = None
        window, made = self._build(
            self._requested_profile, self._requested_version, self.width, self.height, None
        )
        self._window = window
        self.make_current()
        self._finish_init(needs_fbo=False, requested=made)

    @property
    def native_handle(self) -> int:
        return _address(self._window)

    def make_current(self) -> None:
        """Make this context current in the calling thread."""
        if not self.is_current():
            self._glfw.make_context_current(self._window)

    def is_current(self) -> bool:
        return _address(self._glfw.get_current_context()) == _address(self._window)

    def release_current(self) -> None:
        self._glfw.make_context_current(None)

    def _destroy_native(self) -> None:
        if self.lost() is None:  # after glfw.terminate() the window is gone already
            self._glfw.destroy_window(self._window)


def create_glfw_context(
    *,
    profile: str,
    version: tuple[int, int] | None,
    width: int,
    height: int,
    share_with: GLContext | None = None,
) -> GLFWContext:
    """Create a hidden glfw window's context."""
    if share_with is not None and not isinstance(share_with, GLFWContext):
        raise ContextUnavailable("a glfw context can only share with another glfw context")
    return GLFWContext(profile=profile, version=version, width=width, height=height, share_with=share_with)
