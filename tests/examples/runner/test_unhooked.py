# GL objects made through the GL library directly (raw ctypes, as Qt or a C extension would): no hooked
# binding sees them, so a marked test says so instead of passing silently.
import ctypes

import OpenGL.GL as gl
import pytest

LIB = ctypes.CDLL("libOpenGL.so.0")
LIB.glGenTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
LIB.glBindTexture.argtypes = [ctypes.c_uint, ctypes.c_uint]
LIB.glDeleteTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
KEPT = []


def raw_texture():
    name = ctypes.c_uint()
    LIB.glGenTextures(1, ctypes.byref(name))
    LIB.glBindTexture(gl.GL_TEXTURE_2D, name.value)
    LIB.glBindTexture(gl.GL_TEXTURE_2D, 0)
    return name


@pytest.mark.no_gl_leak
def test_marked_pyopengl_clean(gl_context):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    gl.glDeleteTextures([texture])


@pytest.mark.no_gl_leak
def test_marked_raw_texture_kept(gl_context):
    KEPT.append(raw_texture())


@pytest.mark.no_gl_leak
def test_marked_raw_texture_deleted(gl_context):
    name = raw_texture()
    LIB.glDeleteTextures(1, ctypes.byref(name))


def test_unmarked_raw_texture_kept(gl_context):
    KEPT.append(raw_texture())


@pytest.mark.no_gl_leak
def test_marked_pyopengl_after(gl_context):
    buffer = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, 0)
    gl.glDeleteBuffers(1, [buffer])
