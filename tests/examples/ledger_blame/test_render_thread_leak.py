import threading

import OpenGL.GL as gl
import pytest
from eglutil import new_context
from OpenGL import EGL

STOP = threading.Event()


def churn(display):
    new_context(None, display)
    lost = gl.glGenTextures(1)  # made once by the render thread, never deleted
    gl.glBindTexture(gl.GL_TEXTURE_2D, lost)
    while not STOP.is_set():
        textures = gl.glGenTextures(50)
        for texture in textures:
            gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
        gl.glDeleteTextures(textures)


@pytest.fixture(scope="module")
def renderer_thread(gl_context):
    thread = threading.Thread(target=churn, args=(EGL.eglGetCurrentDisplay(),), daemon=True)
    thread.start()
    yield thread
    STOP.set()
    thread.join()


@pytest.mark.no_gl_leak
@pytest.mark.parametrize("i", range(200))
def test_many(renderer_thread, i):
    textures = gl.glGenTextures(20)
    for texture in textures:
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glDeleteTextures(textures)
