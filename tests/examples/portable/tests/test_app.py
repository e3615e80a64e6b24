import OpenGL.GL as gl
import pytest
from app.render import load, remember, upload


@pytest.mark.no_gl_leak
def test_leaks_a_texture(gl_context):
    upload()


@pytest.mark.no_image_leak
def test_keeps_an_image():
    load()


@pytest.mark.max_memory_growth("256 KiB")
def test_grows():
    remember()


@pytest.mark.no_gl_leak
def test_clean(gl_context):
    gl.glDeleteTextures([upload()])
