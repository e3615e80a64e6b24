"""moderngl's gc modes: releases that happen in ``__del__`` ("auto") or in C at ``ctx.gc()`` ("context_gc")."""

import moderngl
import pytest

AUTO = moderngl.create_standalone_context(backend="egl")
AUTO.gc_mode = "auto"
COLLECTED = moderngl.create_standalone_context(backend="egl")
COLLECTED.gc_mode = "context_gc"
KEEP = []


@pytest.mark.no_gl_leak
def test_auto_dropped_objects_are_clean():
    with AUTO:
        texture = AUTO.texture((16, 16), 4)
        AUTO.framebuffer(color_attachments=[texture])  # dropped at once: released by __del__
        AUTO.buffer(reserve=64)
        del texture


@pytest.mark.no_gl_leak
def test_auto_kept_object_leaks():
    with AUTO:
        KEEP.append(AUTO.texture((16, 16), 4))  # AUTO-LEAK


@pytest.mark.no_gl_leak
def test_context_gc_collected_objects_are_clean():
    with COLLECTED:
        COLLECTED.texture((16, 16), 4)
        COLLECTED.buffer(reserve=64)
        assert COLLECTED.gc() == 2  # released in C, not through Texture.release()


@pytest.mark.no_gl_leak
def test_context_gc_not_collected_leaks():
    with COLLECTED:
        COLLECTED.texture((16, 16), 4)  # GC-LEAK: dropped, but in GL until ctx.gc()
