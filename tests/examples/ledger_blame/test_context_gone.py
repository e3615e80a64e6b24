import ctypes
import ctypes.util

import OpenGL.GL as gl
import pytest
from eglutil import new_context
from OpenGL import EGL


def bound_textures(count):
    textures = gl.glGenTextures(count)
    for texture in textures:
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    return textures


@pytest.mark.no_gl_leak
def test_pyopengl_destroyed_context(gl_context):
    display, surface, context = new_context()
    bound_textures(2)
    EGL.eglMakeCurrent(display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
    EGL.eglDestroySurface(display, surface)
    EGL.eglDestroyContext(display, context)


@pytest.mark.no_gl_leak
def test_ctypes_destroyed_context(gl_context):
    lib = ctypes.CDLL(ctypes.util.find_library("EGL"))
    pointer = ctypes.c_void_p
    lib.eglGetCurrentDisplay.restype = pointer
    lib.eglDestroyContext.argtypes = [pointer, pointer]
    lib.eglMakeCurrent.argtypes = [pointer, pointer, pointer, pointer]
    _, _, context = new_context()
    bound_textures(2)
    display = lib.eglGetCurrentDisplay()
    lib.eglMakeCurrent(display, None, None, None)
    lib.eglDestroyContext(display, ctypes.cast(context, pointer).value)


@pytest.mark.no_gl_leak
def test_textures_left_in_a_live_foreign_context(gl_context):
    new_context()
    bound_textures(2)


def test_session_context_current_again(gl_context):
    assert gl_context.is_current()
