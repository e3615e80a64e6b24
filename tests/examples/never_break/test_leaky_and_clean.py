import OpenGL.GL as gl
import pytest


@pytest.mark.no_gl_leak
def test_a(gl_context):
    pass

@pytest.mark.no_gl_leak
def test_leaks(gl_context):
    gl.glBindTexture(gl.GL_TEXTURE_2D, gl.glGenTextures(1))  # LEAK

@pytest.mark.no_image_leak
@pytest.mark.max_memory_growth("1 MiB", warmup=1, repeat=2)
def test_images():
    pass

def test_b():
    pass
