"""moderngl contexts the user makes: objects kept alive leak (with their line), released ones are clean.

The context lives as long as the process: a test's objects kept past the test are that test's leaks,
whichever xdist worker runs it, first or last. (A fixture that released it would do so in the teardown of
the last test that used it in that worker, and per-context objects, framebuffers and vertex arrays, end
with it: kept there, they would be gone, not leaked, and the verdict would depend on how tests were spread.)
"""

import moderngl
import pytest

KEEP = []


@pytest.fixture(scope="session")
def ctx():
    return moderngl.create_standalone_context(backend="egl")  # released when the process ends


@pytest.fixture(scope="module")
def atlas(ctx):
    texture = ctx.texture((32, 32), 4)  # the module fixture's, not the first test's
    yield texture
    with ctx:  # moderngl deletes in whatever context is current: make its own current
        texture.release()


@pytest.mark.no_gl_leak
def test_wider_fixture_object_is_not_the_tests(atlas):
    assert atlas.size == (32, 32)


@pytest.mark.no_gl_leak
def test_texture_kept(ctx):
    KEEP.append(ctx.texture((64, 64), 4))  # TEXTURE-LEAK


@pytest.mark.no_gl_leak
def test_buffer_kept(ctx):
    KEEP.append(ctx.buffer(reserve=4096))  # BUFFER-LEAK


@pytest.mark.no_gl_leak
def test_framebuffer_kept(ctx):
    color = ctx.texture((16, 16), 4)
    fbo = ctx.framebuffer(color_attachments=[color])  # FRAMEBUFFER-LEAK
    color.release()
    KEEP.append(fbo)


@pytest.mark.no_gl_leak
def test_released_is_clean(ctx):
    texture = ctx.texture((64, 64), 4)
    buffer = ctx.buffer(reserve=4096)
    fbo = ctx.framebuffer(color_attachments=[texture])
    program = ctx.program(
        vertex_shader="#version 330\nin vec2 p;\nvoid main() { gl_Position = vec4(p, 0.0, 1.0); }",
        fragment_shader="#version 330\nout vec4 c;\nvoid main() { c = vec4(1.0); }",
    )
    vao = ctx.vertex_array(program, [(buffer, "2f", "p")])
    for obj in (vao, program, fbo, buffer, texture):
        obj.release()


@pytest.mark.no_gl_leak
def test_context_released_with_its_objects_is_clean():
    context = moderngl.create_context(standalone=True, backend="egl")
    context.texture((8, 8), 1)
    context.framebuffer(color_attachments=[context.texture((8, 8), 4)])
    context.release()
