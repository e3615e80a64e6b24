"""moderngl imported inside the test body, after the plugin installed its hooks: still seen."""

import pytest

KEEP = []


@pytest.mark.no_gl_leak
def test_imported_inside_the_test():
    import moderngl

    ctx = moderngl.create_standalone_context(backend="egl")
    KEEP.append(ctx)
    KEEP.append(ctx.texture((8, 8), 4))  # LATE-LEAK
