import OpenGL.GL as gl
import pytest

leaked = []


@pytest.mark.no_gl_leak
def test_leaks(gl_context):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    leaked.append(texture)


def test_after(gl_context):
    print("ALIVE" if gl.glIsTexture(leaked[0]) else "DELETED")
