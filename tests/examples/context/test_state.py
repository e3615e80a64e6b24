import ctypes

import OpenGL.GL as gl

from pytest_glleak.gl import create_context

other = []

def test_a_leaves_a_mess(gl_context):
    texture = gl.glGenTextures(1)
    gl.glActiveTexture(gl.GL_TEXTURE3)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    buffer = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    vao = gl.glGenVertexArrays(1)
    gl.glBindVertexArray(vao)
    gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
    fbo = gl.glGenFramebuffers(1)
    gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, fbo)
    # leave an error flag raised, and another context current
    gl.glGetError.__class__  # keep PyOpenGL from raising on the bad enum below
    try:
        gl.glEnable(0xFFFF)
    except gl.GLError:
        pass
    other.append(create_context("egl", size=(8, 8)))
    assert not gl_context.is_current()

def test_b_starts_clean(gl_context):
    assert gl_context.is_current()
    assert gl.glGetError() == gl.GL_NO_ERROR
    assert gl.glGetIntegerv(gl.GL_ACTIVE_TEXTURE) == gl.GL_TEXTURE0
    gl.glActiveTexture(gl.GL_TEXTURE3)
    assert gl.glGetIntegerv(gl.GL_TEXTURE_BINDING_2D) == 0
    gl.glActiveTexture(gl.GL_TEXTURE0)
    assert gl.glGetIntegerv(gl.GL_ARRAY_BUFFER_BINDING) == 0
    assert gl.glGetIntegerv(gl.GL_VERTEX_ARRAY_BINDING) == 0
    assert gl.glGetIntegerv(gl.GL_FRAMEBUFFER_BINDING) == gl_context.framebuffer
    assert gl.glGetIntegerv(gl.GL_UNPACK_ALIGNMENT) == 4
    assert gl.glGetIntegerv(gl.GL_CURRENT_PROGRAM) == 0
    other[0].destroy()
