# Textures made through the GL library directly (as moderngl, Qt or a C extension would): no PyOpenGL
# function is called, so no hook sees them; only the driver knows.
import ctypes

import OpenGL.GL as gl
import pytest

LIB = ctypes.CDLL("libOpenGL.so.0")
LIB.glGenTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
LIB.glBindTexture.argtypes = [ctypes.c_uint, ctypes.c_uint]
LIB.glDeleteTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
KEPT = []


def make_texture():
    name = ctypes.c_uint()
    LIB.glGenTextures(1, ctypes.byref(name))
    LIB.glBindTexture(gl.GL_TEXTURE_2D, name.value)
    LIB.glBindTexture(gl.GL_TEXTURE_2D, 0)
    return name


@pytest.mark.no_gl_leak
def test_outside_kept(gl_context):
    KEPT.append(make_texture())


@pytest.fixture(scope="module")
def outside_atlas(gl_context):
    return make_texture()


@pytest.mark.no_gl_leak
def test_uses_module_fixture_made_outside(outside_atlas):
    assert outside_atlas.value > 0


@pytest.mark.no_gl_leak
def test_outside_deleted(gl_context):
    name = make_texture()
    LIB.glDeleteTextures(1, ctypes.byref(name))


@pytest.mark.no_gl_leak
def test_after_the_leak(gl_context):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glDeleteTextures([texture])
