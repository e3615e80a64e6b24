import glfw
import OpenGL.GL as gl
import pytest


@pytest.mark.no_gl_leak
def test_breaks(gl_context):
    gl.glGenTextures(1)  # died with the window: not a leak
    glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
    window = glfw.create_window(16, 16, "a renderer's own", None, None)
    glfw.make_context_current(window)
    gl.glGenBuffers(1)  # died with that window too
    glfw.terminate()


@pytest.mark.no_gl_leak
def test_later_gl(gl_context):
    assert gl_context.is_current()
    assert glfw.get_current_context() is not None
    texture = gl.glGenTextures(1)
    gl.glDeleteTextures([texture])


def test_later_released(gl_context):
    glfw.make_context_current(None)


@pytest.mark.no_gl_leak
def test_later_leak_still_caught(gl_context):
    assert gl_context.is_current()
    gl.glGenTextures(1)


def test_later_without_gl():
    pass
