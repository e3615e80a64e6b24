"""100 clean pyglet tests: every object deleted; none may be reported in --glleak-mode=all."""

import pyglet

pyglet.options["headless"] = True

import pyglet.image  # noqa: E402
import pytest  # noqa: E402
from pyglet.graphics.shader import Shader, ShaderProgram  # noqa: E402
from pyglet.graphics.vertexarray import VertexArray  # noqa: E402
from pyglet.graphics.vertexbuffer import BufferObject  # noqa: E402
from pyglet.image.buffer import Framebuffer  # noqa: E402

VERTEX = "#version 330 core\nin vec2 position;\nvoid main() { gl_Position = vec4(position, 0.0, 1.0); }"
FRAGMENT = "#version 330 core\nout vec4 color;\nvoid main() { color = vec4(1.0); }"


# Made at import: pyglet's own objects (its default shader program and buffer, shared through its object
# space for the whole process) then belong to the module's import, not to a fixture or a test.
WINDOW = pyglet.window.Window(width=32, height=32, visible=False)


@pytest.fixture(scope="module")
def window():
    WINDOW.switch_to()
    return WINDOW


@pytest.mark.parametrize("index", range(100))
def test_clean(window, index):
    texture = pyglet.image.Texture.create(16 + index, 16)
    buffer = BufferObject(64 + index)
    framebuffer = Framebuffer()
    framebuffer.attach_texture(texture)
    vertex, fragment = Shader(VERTEX, "vertex"), Shader(FRAGMENT, "fragment")
    program = ShaderProgram(vertex, fragment)
    vao = VertexArray()
    for obj in (vao, program, vertex, fragment, framebuffer, buffer, texture):
        obj.delete()
