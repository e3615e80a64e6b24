"""What a new user tries first: one test that forgets a texture, one that cleans up."""

import OpenGL.GL as gl
import pytest


@pytest.mark.no_gl_leak
def test_forgets_a_texture(gl_context):
    gl.glBindTexture(gl.GL_TEXTURE_2D, gl.glGenTextures(1))  # LEAKING LINE


@pytest.mark.no_gl_leak
def test_deletes_its_texture(gl_context):
    gl.glDeleteTextures([gl.glGenTextures(1)])
