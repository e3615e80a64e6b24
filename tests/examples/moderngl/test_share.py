"""moderngl.create_context(share=True): a moderngl context of its own that shares objects with the context
current when it is made (here the plugin's ``gl_context``). Shared objects kept alive leak with their
line, even when the test released the context (its share group lives on); per-context objects end with
the context; released objects are clean.
"""

import moderngl
import pytest

KEEP = []


def shared_context():
    return moderngl.create_context(share=True, backend="egl")


@pytest.mark.no_gl_leak
def test_share_texture_kept(gl_context):
    ctx = shared_context()
    KEEP.append(ctx)
    KEEP.append(ctx.texture((16, 16), 4))  # SHARE-TEXTURE-LEAK


@pytest.mark.no_gl_leak
def test_share_buffer_kept_past_context_release(gl_context):
    ctx = shared_context()
    KEEP.append(ctx.buffer(reserve=1024))  # SHARE-BUFFER-LEAK
    ctx.release()  # the buffer is shared: it lives on in gl_context's share group


@pytest.mark.no_gl_leak
def test_share_released_is_clean(gl_context):
    ctx = shared_context()
    texture = ctx.texture((16, 16), 4)
    buffer = ctx.buffer(reserve=1024)
    fbo = ctx.framebuffer(color_attachments=[texture])
    for obj in (fbo, buffer, texture):
        obj.release()
    ctx.release()


@pytest.mark.no_gl_leak
def test_share_per_context_object_ends_with_its_context(gl_context):
    ctx = shared_context()
    texture = ctx.texture((16, 16), 4)
    KEEP.append(ctx.framebuffer(color_attachments=[texture]))  # framebuffers are not shared
    texture.release()
    ctx.release()
