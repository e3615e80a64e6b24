import OpenGL.GL as gl
import pytest


@pytest.mark.no_gl_leak
def test_buffers(gl_context):
    gl.glDeleteBuffers(1, [gl.glGenBuffers(1)])
