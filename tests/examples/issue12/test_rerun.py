import OpenGL.GL as gl
import pytest


@pytest.mark.no_gl_leak
def test_leaks_every_time(gl_context):
    t = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, t)


CALLS = []


@pytest.mark.no_gl_leak
def test_leaks_first_time_only(gl_context):
    CALLS.append(1)
    if len(CALLS) == 1:
        t = gl.glGenTextures(1)
        gl.glBindTexture(gl.GL_TEXTURE_2D, t)


FLAKY = []


@pytest.mark.no_gl_leak
def test_flaky_fails_first_and_leaks(gl_context):
    FLAKY.append(1)
    t = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, t)
    if len(FLAKY) == 1:
        assert False
