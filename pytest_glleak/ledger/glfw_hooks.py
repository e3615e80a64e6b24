"""Hooks on glfw's window functions, so contexts made by ``glfw.create_window`` join the ledger.

glfw creates and destroys contexts in C, where no PyOpenGL hook sees them: ``create_window`` registers
the new window's context (in the share group of ``share``), ``destroy_window`` and ``terminate`` forget
what died with the windows. No pytest imports.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from pytest_glleak.gl.current import switched
from pytest_glleak.ledger.args import as_pointer

if TYPE_CHECKING:
    from pytest_glleak.ledger.core import Ledger

__all__ = ["GlfwHooks"]


class GlfwHooks:
    """glfw's ``create_window``/``destroy_window``/``terminate`` replaced by recording versions."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        #: glfw window pointer -> the platform handle of its context.
        self._windows: dict[int, int] = {}
        self._originals: dict[str, Any] = {}

    @property
    def installed(self) -> bool:
        """Whether glfw's functions are replaced now."""
        return bool(self._originals)

    def install(self) -> None:
        """Replace glfw's functions, if something has imported glfw (a no-op when installed)."""
        # Importing glfw costs ~80 ms; hook it only once something has imported it (checked again at
        # every mark(), i.e. every test start, so a test module's `import glfw` is seen).
        glfw: Any = sys.modules.get("glfw")
        if glfw is None or self._originals:
            return
        create_window = glfw.create_window
        destroy_window = glfw.destroy_window
        terminate = glfw.terminate
        self._originals = {
            "create_window": create_window,
            "destroy_window": destroy_window,
            "terminate": terminate,
        }
        ledger = self._ledger
        windows = self._windows
        native_of = self._native

        def create_window_hook(width: int, height: int, title: Any, monitor: Any, share: Any) -> Any:
            window = create_window(width, height, title, monitor, share)
            try:
                if window:
                    native = native_of(glfw, window)
                    group = None
                    if share:
                        share_native = windows.get(as_pointer(share)) or native_of(glfw, share)
                        if share_native:
                            known = ledger._contexts.get(share_native) or ledger._register(share_native, None)
                            group = known.group
                    if native:
                        windows[as_pointer(window)] = native
                        ledger.context_created(native, group)
            except Exception as exc:
                ledger.hook_errors.append(exc)
            return window

        def destroy_window_hook(window: Any) -> Any:
            native = windows.pop(as_pointer(window), 0)
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
                natives = list(windows.values())
                windows.clear()
                for native in natives:
                    ledger.context_destroyed(native)

        glfw.create_window = create_window_hook
        glfw.destroy_window = destroy_window_hook
        glfw.terminate = terminate_hook

    def _native(self, glfw: Any, window: Any) -> int:
        """The platform context handle of a glfw window: made current for a moment, then put back.

        (glfw's own get_glx_context/get_egl_context crash on some builds, and glfw keeps its own idea
        of the current window, so both glfw's and the platform's current context are restored.)
        """
        ledger = self._ledger
        previous_window = glfw.get_current_context()
        with switched(ledger._current, ledger._contexts, lambda: glfw.make_context_current(window)):
            handle = int(ledger._current() or 0)
            glfw.make_context_current(previous_window)
        return handle

    def uninstall(self) -> None:
        """Put glfw's own functions back."""
        if not self._originals:
            return
        glfw = sys.modules.get("glfw")
        if glfw is not None:
            for attribute, original in self._originals.items():
                setattr(glfw, attribute, original)
        self._originals = {}
