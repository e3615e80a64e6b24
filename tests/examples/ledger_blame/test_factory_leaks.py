import OpenGL.GL as gl
import pytest
from OpenGL.GL.EXT import framebuffer_object as ext_fbo


@pytest.mark.no_gl_leak
def test_ext_framebuffer_left_in_compat_factory_context(gl_context, gl_context_factory):
    gl_context_factory(profile="compat")
    fbo = ext_fbo.glGenFramebuffersEXT(1)
    ext_fbo.glBindFramebufferEXT(ext_fbo.GL_FRAMEBUFFER_EXT, fbo)
    ext_fbo.glBindFramebufferEXT(ext_fbo.GL_FRAMEBUFFER_EXT, 0)


@pytest.mark.no_gl_leak
def test_textures_left_in_factory_context(gl_context, gl_context_factory):
    gl_context_factory()
    for texture in gl.glGenTextures(2):
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)


@pytest.mark.no_gl_leak
def test_textures_die_with_a_factory_context_the_test_destroys(gl_context, gl_context_factory):
    context = gl_context_factory()
    for texture in gl.glGenTextures(2):
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    context.destroy()


@pytest.mark.no_gl_leak
def test_clean_factory_context(gl_context, gl_context_factory):
    gl_context_factory(profile="compat")
    textures = gl.glGenTextures(2)
    gl.glDeleteTextures(textures)


def test_session_context_current_after_factory_tests(gl_context):
    assert gl_context.is_current()
