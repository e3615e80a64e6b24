import OpenGL.GL as gl
import pytest
from eglutil import new_context
from OpenGL import EGL


def compiled_list():
    base = gl.glGenLists(1)
    gl.glNewList(base, gl.GL_COMPILE)
    gl.glEndList()
    return base


@pytest.mark.no_gl_leak
def test_display_list_left_in_shared_compat_context(gl_context, gl_context_factory):
    gl_context_factory(profile="compat", share_with=gl_context)
    compiled_list()


@pytest.mark.no_gl_leak
def test_display_list_deleted_in_shared_compat_context(gl_context, gl_context_factory):
    gl_context_factory(profile="compat", share_with=gl_context)
    base = compiled_list()
    gl.glDeleteLists(base, 1)


@pytest.mark.no_gl_leak
def test_display_list_in_foreign_compat_context_sharing_with_core(gl_context):
    handle = EGL.eglGetCurrentContext()
    new_context(share=handle, compat=True)
    compiled_list()
