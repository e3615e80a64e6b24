import OpenGL.GL as gl
import pytest


def test_earlier(gl_context):
    for _ in range(100):
        texture = gl.glGenTextures(1)
        gl.glDeleteTextures([texture])


@pytest.mark.no_gl_leak
def test_frame_loop(gl_context, gl_ledger):
    for _ in range(5000):
        mark = gl_ledger.mark()
        texture = gl.glGenTextures(1)
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
        gl.glDeleteTextures([texture])
        assert not gl_ledger.leaks_since(mark)
    assert gl_ledger.created("texture") == 5000
    assert gl_ledger.deleted("texture") == 5000
