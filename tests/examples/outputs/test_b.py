import OpenGL.GL as gl
import pytest


@pytest.mark.no_gl_leak
def test_leak(gl_context):
    t = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, t)
