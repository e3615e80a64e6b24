"""Raw GL functions the ledger calls itself: glIs* queries, deletes and glGetIntegerv for bindings.

Bare ctypes functions where the GL library exports them (no PyOpenGL wrapper, no glGetError, not
hooked), else PyOpenGL's raw function objects. Each is looked up once per process.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any, cast

from pytest_glleak import speedups
from pytest_glleak.ledger import registry

__all__ = ["DELETERS", "bound_object", "current_context_function", "gl_function", "is_function"]

#: kind -> the GL function that deletes one object of it (cleanup of leaked objects).
DELETERS = {
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
_DRIVER_LIBRARY: list[int | None] = []


_BOUND_VALUE = ctypes.c_int32()
_BOUND_POINTER = ctypes.pointer(_BOUND_VALUE)
_GET_INTEGER: list[Any] = []
# The base class of every ctypes foreign function (not exported under a public name).
_C_FUNCTION_POINTER: type = ctypes.CFUNCTYPE(None).__mro__[1]


def bound_object(query: int) -> int:
    """glGetIntegerv(query): the name bound to a target now, in the current context.

    Called on every bind-to-edit storage call, so through a bare function pointer with no argtypes (the
    enum goes as a C int, the pointer as is) that keeps the GIL: a plain ctypes call releases and
    re-takes it, which costs more than the query.
    """
    if not _GET_INTEGER:
        _GET_INTEGER.append(_gil_keeping(_platform_gl("glGetIntegerv"), None))
    function = _GET_INTEGER[0]
    if function is None:
        return 0
    _BOUND_VALUE.value = 0
    function(query, _BOUND_POINTER)
    return _BOUND_VALUE.value & 0xFFFFFFFF


def current_context_function(platform_function: Callable[[], Any]) -> Callable[[], Any]:
    """PyOpenGL's ``eglGetCurrentContext``/``glXGetCurrentContext`` re-bound to keep the GIL (called from C
    by the accelerator where it is built).

    The ledger asks it on every recorded GL call; the thread-local read behind it is cheaper than the
    GIL release and re-take of a plain ctypes call. The platform's own function is kept when its address
    cannot be taken or the two disagree.
    """
    bare = _gil_keeping(platform_function, ctypes.c_void_p)
    if bare is None:
        return platform_function
    try:
        if (bare() or 0) != (platform_function() or 0):
            return platform_function
    except Exception:
        return platform_function
    native = speedups.native
    if native is not None:
        # The C accelerator calls the same function without ctypes' argument machinery.
        try:
            native.forget_contexts()  # contexts may have come and gone unseen while no ledger was installed
            fast = native.current_function(ctypes.cast(bare, ctypes.c_void_p).value, driver_context_address())
            if fast() == (bare() or 0):
                return cast("Callable[[], Any]", fast)
        except Exception:
            pass
    return cast("Callable[[], Any]", bare)


def driver_context_address() -> int | None:
    """The address of Mesa's ``_glapi_get_context`` (libglapi), or None where there is none.

    It returns the driver's own context current in the calling thread (a thread-local read, NULL when no
    Mesa context is current). A driver context belongs to one EGL/GLX context for that context's whole
    life, so the accelerator asks ``eglGetCurrentContext`` (a dispatch and a ``getpid`` system call in
    libglvnd) only when that pointer changes, or after a context was created or destroyed.
    """
    if not _DRIVER_LIBRARY:
        try:
            library: Any = ctypes.CDLL("libglapi.so.0")
            _DRIVER_LIBRARY.append(ctypes.cast(library._glapi_get_context, ctypes.c_void_p).value)
        except (OSError, AttributeError):
            _DRIVER_LIBRARY.append(None)
    return _DRIVER_LIBRARY[0]


def _platform_gl(name: str) -> Any:
    try:
        return getattr(platform().GL, name)
    except Exception:
        return None


def _gil_keeping(function: Any, restype: Any) -> Any:
    """The C function behind ctypes ``function`` as a ``PYFUNCTYPE`` (no GIL release), or None."""
    if not isinstance(function, _C_FUNCTION_POINTER):
        return None
    pointer: Any = function
    try:
        address = ctypes.cast(pointer, ctypes.c_void_p).value
    except Exception:
        return None
    if not address:
        return None
    return ctypes.PYFUNCTYPE(restype)(address)


_IS_FUNCTIONS: dict[str, Any] = {}


def is_function(kind: str) -> Any:
    """The glIs* query of ``kind`` as a bare ctypes function (no PyOpenGL wrapper, no glGetError), or the
    raw PyOpenGL function where the GL library does not export it; None when neither exists."""
    try:
        return _IS_FUNCTIONS[kind]
    except KeyError:
        pass
    name = registry.IS_QUERY[kind]
    function: Any = None
    try:
        library = platform().GL
        function = getattr(library, name)
        function.restype = ctypes.c_ubyte
        function.argtypes = [ctypes.c_void_p if kind == "sync" else ctypes.c_uint32]
    except Exception:
        function = gl_function(name)
    _IS_FUNCTIONS[kind] = function
    return function


def gl_function(name: str) -> Any:
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


def platform() -> Any:
    """PyOpenGL's loaded platform object, or None before ``OpenGL.platform`` is imported."""
    module = sys.modules.get("OpenGL.platform")
    return getattr(module, "PLATFORM", None)
