import OpenGL.GL as gl
import pytest


@pytest.mark.no_gl_leak
def test_fails_and_leaks(gl_context):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    assert 1 == 2, "its own failure"
