"""pyglet in headless (EGL) mode: objects kept alive leak with their line; deleted ones are clean.

test_every_kind_kept runs first: pyglet deletes some objects late (its "doomed" lists, emptied at the
next switch), and a late delete of a recycled name would end an object made after it.
"""

import pyglet

pyglet.options["headless"] = True

import pyglet.image  # noqa: E402
import pytest  # noqa: E402

KEEP = []


# Made at import: pyglet's own objects (its default shader program and buffer, shared through its object
# space for the whole process) then belong to the module's import, not to a fixture or a test.
WINDOW = pyglet.window.Window(width=32, height=32, visible=False)


@pytest.fixture(scope="module")
def window():
    WINDOW.switch_to()
    return WINDOW


@pytest.mark.no_gl_leak
def test_every_kind_kept(window):
    from pyglet.graphics.shader import Shader, ShaderProgram
    from pyglet.graphics.vertexarray import VertexArray
    from pyglet.graphics.vertexbuffer import BufferObject
    from pyglet.image.buffer import Framebuffer

    vertex = Shader("#version 330 core\nvoid main() { gl_Position = vec4(0.0); }", "vertex")
    fragment = Shader("#version 330 core\nout vec4 c;\nvoid main() { c = vec4(1.0); }", "fragment")
    KEEP.append(BufferObject(256))  # BUFFER-LEAK
    KEEP.append(Framebuffer())  # FRAMEBUFFER-LEAK
    KEEP.append(ShaderProgram(vertex, fragment))  # PROGRAM-LEAK
    KEEP.append(VertexArray())  # VAO-LEAK
    vertex.delete()
    fragment.delete()


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

