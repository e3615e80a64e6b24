"""moderngl_context: the same working moderngl.Context in every test; its objects are in the ledger."""

import pytest

KEEP = []


@pytest.mark.parametrize("round_", range(50))
@pytest.mark.no_gl_leak
def test_draws_in_every_test(moderngl_context, round_):
    ctx = moderngl_context
    texture = ctx.texture((8, 8), 4)
    fbo = ctx.framebuffer(color_attachments=[texture])
    fbo.use()
    ctx.clear(1.0, 0.0, 0.0, 1.0)
    assert fbo.read(components=4)[:4] == b"\xff\x00\x00\xff"
    fbo.release()
    texture.release()


@pytest.mark.no_gl_leak
def test_get_context_is_the_fixture(moderngl_context):
    import moderngl

    assert moderngl.get_context() is moderngl_context


@pytest.mark.no_gl_leak
def test_kept_texture_leaks(moderngl_context):
    KEEP.append(moderngl_context.texture((32, 32), 4))  # FIXTURE-LEAK
