import numpy as np
import OpenGL.GL as gl
import pytest

VS = "#version 330 core\nvoid main() { gl_Position = vec4(0.0); }"


@pytest.mark.no_gl_leak
def test_deferred_shader_and_program_deletion_is_not_a_leak(gl_context):
    shader = gl.glCreateShader(gl.GL_VERTEX_SHADER)
    gl.glShaderSource(shader, VS)
    gl.glCompileShader(shader)
    program = gl.glCreateProgram()
    gl.glAttachShader(program, shader)
    gl.glLinkProgram(program)
    gl.glUseProgram(program)
    gl.glDeleteShader(shader)      # deferred: still attached
    gl.glDeleteProgram(program)    # deferred: still current
    assert gl.glIsProgram(program)
    gl.glUseProgram(0)             # now both really go


@pytest.mark.no_gl_leak
def test_reserved_never_bound_name_is_reported(gl_context):
    gl.glGenBuffers(1)  # RESERVED


@pytest.mark.no_gl_leak
def test_name_reuse_after_delete(gl_context):
    for _ in range(5):
        texture = gl.glGenTextures(1)
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
        gl.glDeleteTextures([texture])


@pytest.mark.no_gl_leak
def test_deleting_unknown_names_and_zero_is_ignored(gl_context):
    gl.glDeleteTextures([0, 987654])
    gl.glDeleteBuffers(1, [123456])


@pytest.mark.no_gl_leak
def test_argument_shapes(gl_context):
    pair = gl.glGenRenderbuffers(2)
    for name in pair:
        gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, name)
    gl.glDeleteRenderbuffers(2, pair)
    vao = gl.GLuint()
    gl.glGenVertexArrays(1, vao)
    gl.glBindVertexArray(vao.value)
    gl.glBindVertexArray(0)
    gl.glDeleteVertexArrays(1, gl.GLuint(vao.value))
    textures = gl.glGenTextures(3)
    for name in textures:
        gl.glBindTexture(gl.GL_TEXTURE_2D, name)
    gl.glDeleteTextures(np.asarray(textures))
    single = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, single)
    gl.glDeleteTextures(int(single))


@pytest.mark.no_gl_leak
def test_shared_context_objects_outlive_the_sharer(gl_context, gl_context_factory):
    shared = gl_context_factory(share_with=gl_context)
    texture = gl.glGenTextures(1)  # SHARED
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    # the factory destroys `shared` after the test, but the texture lives on in gl_context's share group


@pytest.mark.no_gl_leak
def test_objects_of_a_destroyed_unshared_context_died_with_it(gl_context, gl_context_factory):
    fresh = gl_context_factory()
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    vao = gl.glGenVertexArrays(1)
    gl.glBindVertexArray(vao)
    fresh.destroy()  # the test's own code destroys it: what it held died with it
