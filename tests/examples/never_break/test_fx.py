import OpenGL.GL as gl
import pytest


@pytest.fixture
def leaky_then_raise(gl_context):
    t = gl.glGenTextures(3)
    for n in t: gl.glBindTexture(gl.GL_TEXTURE_2D, n)
    yield t
    raise RuntimeError("teardown boom")

@pytest.fixture
def half_built(gl_context):
    t = gl.glGenTextures(4)
    for n in t: gl.glBindTexture(gl.GL_TEXTURE_2D, n)
    raise RuntimeError("setup boom")

@pytest.mark.no_gl_leak
def test_teardown_raises_and_leaks(leaky_then_raise):
    pass

@pytest.mark.no_gl_leak
def test_setup_fails_and_leaks(half_built):
    pass

@pytest.mark.no_gl_leak
def test_call_fails_and_leaks(gl_context):
    t = gl.glGenTextures(2)
    for n in t: gl.glBindTexture(gl.GL_TEXTURE_2D, n)
    assert False, "own failure"
