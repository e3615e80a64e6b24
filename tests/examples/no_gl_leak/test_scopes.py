import OpenGL.GL as gl
import pytest


@pytest.fixture(scope="module")
def atlas(gl_context):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    yield texture
    gl.glDeleteTextures([texture])


@pytest.fixture
def scratch(gl_context):
    buffer = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    yield buffer
    gl.glDeleteBuffers(1, [buffer])


@pytest.fixture
def leaky_scratch(gl_context):
    buffer = gl.glGenBuffers(1)  # FIXTURE-LEAK
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    yield buffer


@pytest.mark.no_gl_leak
def test_uses_module_fixture(atlas, scratch):
    assert gl.glIsTexture(atlas) and gl.glIsBuffer(scratch)


@pytest.mark.no_gl_leak
def test_uses_module_fixture_again(atlas):
    assert gl.glIsTexture(atlas)


@pytest.mark.no_gl_leak
def test_function_fixture_leak_is_blamed(leaky_scratch):
    pass


@pytest.mark.no_gl_leak
def test_not_blamed_for_earlier_leak(gl_context):
    pass
