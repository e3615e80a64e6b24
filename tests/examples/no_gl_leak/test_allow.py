import OpenGL.GL as gl
import pytest


def make(kind):
    if kind == "texture":
        name = gl.glGenTextures(1); gl.glBindTexture(gl.GL_TEXTURE_2D, name)
    else:
        name = gl.glGenBuffers(1); gl.glBindBuffer(gl.GL_ARRAY_BUFFER, name)


@pytest.mark.no_gl_leak(kinds=["buffer"])
def test_only_buffers_checked(gl_context):
    make("texture")


@pytest.mark.no_gl_leak(allow={"texture": 2})
def test_two_textures_allowed(gl_context):
    make("texture"); make("texture")


@pytest.mark.no_gl_leak(allow={"texture": 1})
def test_third_texture_not_allowed(gl_context):
    make("texture"); make("texture")


def test_unmarked_not_checked_in_marked_mode(gl_context):
    make("buffer")


@pytest.mark.allow_gl_leak("intentional pool")
def test_opted_out(gl_context):
    make("buffer")
