"""A moderngl loader over one of the plugin's contexts: what ``moderngl_context`` is made with.

moderngl asks its loader for every GL entry point's address (``load_opengl_function``) and calls
``__enter__``/``__exit__`` around ``with ctx:`` and ``release`` at ``ctx.release()``. This loader resolves
through the context's own ``getProcAddress`` (EGL or glfw), makes the context current on enter, and never
destroys it (the plugin owns it). No pytest imports, no moderngl import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_glleak.gl.base import GLContext

__all__ = ["ContextLoader"]


class ContextLoader:
    """The moderngl loader protocol over a :class:`~pytest_glleak.gl.base.GLContext`."""

    def __init__(self, context: GLContext) -> None:
        self.context = context

    def load_opengl_function(self, name: str) -> int:
        """The address of GL entry point ``name`` in the context's driver (0: none)."""
        return self.context.gl.address(name)

    def load(self, name: str) -> int:
        """The same, for moderngl versions that ask ``load(name)``."""
        return self.load_opengl_function(name)

    def __enter__(self) -> ContextLoader:
        if not self.context.is_current():
            self.context.make_current()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None

    def release(self) -> None:
        """Nothing: the plugin's context outlives any moderngl context made on it."""
