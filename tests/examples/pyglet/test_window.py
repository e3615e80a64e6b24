"""pyglet with a window (GLX under X, not headless): a texture kept alive leaks with its line; one
deleted is clean."""

import pyglet
import pyglet.image
import pytest

KEEP = []
# Made at import: pyglet's own objects then belong to the module's import, not to a test.
WINDOW = pyglet.window.Window(width=32, height=32, visible=False)


@pytest.fixture(scope="module")
def window():
    WINDOW.switch_to()
    return WINDOW


@pytest.mark.no_gl_leak
def test_texture_kept(window):
    KEEP.append(pyglet.image.Texture.create(64, 64))  # TEXTURE-LEAK


@pytest.mark.no_gl_leak
def test_texture_deleted_is_clean(window):
    texture = pyglet.image.Texture.create(64, 64)
    texture.delete()


@pytest.mark.no_gl_leak
def test_buffer_deleted_is_clean(window):
    from pyglet.graphics.vertexbuffer import BufferObject

    buffer = BufferObject(1024)
    buffer.delete()
