import OpenGL.GL as gl


def test_fresh_context_does_not_share(gl_context, gl_context_factory):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    fresh = gl_context_factory()
    assert fresh.is_current() and fresh.share_group != gl_context.share_group
    assert fresh.backend == gl_context.backend and fresh.profile == "core"
    assert not gl.glIsTexture(texture)
    gl_context.make_current()
    gl.glDeleteTextures([texture])

def test_shared_context_sees_objects(gl_context, gl_context_factory):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    shared = gl_context_factory(share_with=gl_context)
    assert shared.is_current() and shared.share_group == gl_context.share_group
    assert gl.glIsTexture(texture)
    gl.glDeleteTextures([texture])

def test_compat_context_has_display_lists(gl_context, gl_context_factory):
    compat = gl_context_factory(profile="compat")
    assert compat.profile == "compat"
    base = gl.glGenLists(2)
    gl.glNewList(base, gl.GL_COMPILE)
    gl.glEndList()
    assert gl.glIsList(base)
    gl.glDeleteLists(base, 2)

def test_gl_context_is_current_again_after_factory_tests(gl_context):
    assert gl_context.is_current()
