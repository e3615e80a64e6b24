import numpy as np
import OpenGL.GL as gl
from OpenGL.GL import shaders

VS = """#version 330 core
layout(location=0) in vec2 pos;
void main() { gl_Position = vec4(pos, 0.0, 1.0); }"""
FS = """#version 330 core
out vec4 color;
void main() { color = vec4(1.0, 0.0, 0.0, 1.0); }"""


def test_triangle(gl_context):
    assert gl_context.is_current()
    program = shaders.compileProgram(
        shaders.compileShader(VS, gl.GL_VERTEX_SHADER), shaders.compileShader(FS, gl.GL_FRAGMENT_SHADER)
    )
    vao = gl.glGenVertexArrays(1)
    gl.glBindVertexArray(vao)
    vbo = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, vbo)
    vertices = np.array([-1, -1, 0, -1, -1, 0], dtype=np.float32)  # lower-left half only
    gl.glBufferData(gl.GL_ARRAY_BUFFER, vertices.nbytes, vertices, gl.GL_STATIC_DRAW)
    gl.glEnableVertexAttribArray(0)
    gl.glVertexAttribPointer(0, 2, gl.GL_FLOAT, False, 0, None)
    gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, gl_context.framebuffer)
    gl.glClearColor(0, 0, 1, 1)
    gl.glClear(gl.GL_COLOR_BUFFER_BIT)
    gl.glUseProgram(program)
    gl.glDrawArrays(gl.GL_TRIANGLES, 0, 3)
    pixels = gl.glReadPixels(0, 0, gl_context.width, gl_context.height, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE)
    image = np.frombuffer(pixels, dtype=np.uint8).reshape(gl_context.height, gl_context.width, 4)
    assert tuple(image[2, 2]) == (255, 0, 0, 255)                       # inside the triangle
    assert tuple(image[-3, -3]) == (0, 0, 255, 255)                     # outside: clear colour
    gl.glDeleteBuffers(1, [vbo])
    gl.glDeleteVertexArrays(1, [vao])
    gl.glDeleteProgram(program)
