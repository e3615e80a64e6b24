# A renderer that makes its own EGL context and its GL objects through the GL library directly (as Qt or
# a C extension would): the ledger sees the context created (PyOpenGL's EGL), but no texture call.
import ctypes

import pytest
from OpenGL import EGL

GL = ctypes.CDLL("libOpenGL.so.0")
GL.glGenTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
GL.glBindTexture.argtypes = [ctypes.c_uint, ctypes.c_uint]
GL.glDeleteTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
LIBEGL = ctypes.CDLL("libEGL.so.1")
LIBEGL.eglGetProcAddress.restype = ctypes.c_void_p
LIBEGL.eglGetProcAddress.argtypes = [ctypes.c_char_p]
TEX_IMAGE_2D = ctypes.CFUNCTYPE(
    None,
    ctypes.c_uint, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
    ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p,
)(LIBEGL.eglGetProcAddress(b"glTexImage2D"))
GL_TEXTURE_2D, GL_RGBA8, GL_RGBA, GL_UNSIGNED_BYTE = 0x0DE1, 0x8058, 0x1908, 0x1401
KEPT = []


def own_context():
    """A context of the renderer's own on the current display, current on return."""
    dpy = EGL.eglGetCurrentDisplay()
    cfg = EGL.EGLConfig()
    n = EGL.EGLint()
    attrs = (EGL.EGLint * 5)(EGL.EGL_RENDERABLE_TYPE, EGL.EGL_OPENGL_BIT, EGL.EGL_NONE, 0, 0)
    assert EGL.eglChooseConfig(dpy, attrs, ctypes.pointer(cfg), 1, ctypes.pointer(n))
    EGL.eglBindAPI(EGL.EGL_OPENGL_API)
    ctx_attrs = (EGL.EGLint * 7)(
        EGL.EGL_CONTEXT_MAJOR_VERSION, 3, EGL.EGL_CONTEXT_MINOR_VERSION, 3, 0x30FD, 1, EGL.EGL_NONE
    )
    ctx = EGL.eglCreateContext(dpy, cfg, EGL.EGL_NO_CONTEXT, ctx_attrs)
    assert ctx
    assert EGL.eglMakeCurrent(dpy, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, ctx)
    return dpy, ctx


def make_texture(size=64):
    name = ctypes.c_uint()
    GL.glGenTextures(1, ctypes.byref(name))
    GL.glBindTexture(GL_TEXTURE_2D, name.value)
    TEX_IMAGE_2D(GL_TEXTURE_2D, 0, GL_RGBA8, size, size, 0, GL_RGBA, GL_UNSIGNED_BYTE, None)
    GL.glBindTexture(GL_TEXTURE_2D, 0)
    return name


@pytest.mark.no_gl_leak
def test_own_context_texture_kept(gl_context):
    KEPT.append((own_context(), make_texture()))


@pytest.mark.no_gl_leak
def test_own_context_texture_deleted(gl_context):
    context = own_context()
    name = make_texture()
    GL.glDeleteTextures(1, ctypes.byref(name))
    KEPT.append(context)  # the context lives on, empty


@pytest.mark.no_gl_leak
def test_own_context_destroyed(gl_context):
    dpy, ctx = own_context()
    make_texture()
    EGL.eglMakeCurrent(dpy, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
    EGL.eglDestroyContext(dpy, ctx)  # its objects die with it


@pytest.fixture
def outside_in_setup(gl_context):
    name = make_texture(32)
    KEPT.append(name)
    return name


@pytest.mark.no_gl_leak
def test_fixture_made_outside_kept(outside_in_setup):
    assert outside_in_setup.value > 0
