"""pyglet in headless (EGL) mode: a texture kept alive leaks with its line; a deleted one is clean."""

import pyglet

pyglet.options["headless"] = True

import pyglet.image  # noqa: E402
import pytest  # noqa: E402

KEEP = []


@pytest.fixture(scope="module")
def window():
    win = pyglet.window.Window(width=32, height=32, visible=False)
    win.switch_to()
    yield win
    win.close()


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
