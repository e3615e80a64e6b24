"""Raw GL functions the ledger calls itself: glIs* queries, deletes and glGetIntegerv for bindings.

Bare ctypes functions where the GL library exports them (no PyOpenGL wrapper, no glGetError, not
hooked), else PyOpenGL's raw function objects. Each is looked up once per process.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from pytest_glleak.ledger import registry

__all__ = ["DELETERS", "bound_object", "gl_function", "is_function"]

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


_BOUND_VALUE = ctypes.c_int32()
_BOUND_POINTER = ctypes.pointer(_BOUND_VALUE)
_GET_INTEGER: list[Any] = []


def bound_object(query: int) -> int:
    """glGetIntegerv(query) through a bare ctypes function: the name bound to a target now."""
    if not _GET_INTEGER:
        try:
            function = platform().GL.glGetIntegerv
            function.restype = None
            function.argtypes = [ctypes.c_uint32, ctypes.POINTER(ctypes.c_int32)]
        except Exception:
            function = None
        _GET_INTEGER.append(function)
    function = _GET_INTEGER[0]
    if function is None:
        return 0
    _BOUND_VALUE.value = 0
    function(query, _BOUND_POINTER)
    return _BOUND_VALUE.value & 0xFFFFFFFF


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
