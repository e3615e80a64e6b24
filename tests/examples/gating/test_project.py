import OpenGL.GL as gl
import pytest
from PIL import Image

KEPT = []


def upload():
    texture = gl.glGenTextures(1)  # SITE-TEXTURE
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, 16, 16, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
    return texture


@pytest.mark.no_gl_leak
def test_leaks_one_texture(gl_context):
    upload()


@pytest.mark.no_gl_leak
def test_leaks_two_textures(gl_context):
    upload()
    upload()


@pytest.mark.no_image_leak
def test_keeps_an_image():
    KEPT.append(Image.new("RGBA", (128, 128)))  # SITE-IMAGE


@pytest.mark.no_gl_leak
def test_clean(gl_context):
    gl.glDeleteTextures([upload()])
