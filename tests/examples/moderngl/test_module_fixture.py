"""moderngl objects made in module-scoped fixtures: the fixture's, not the first test's that used it."""

import pytest


@pytest.fixture(scope="module")
def atlas(moderngl_context):
    texture = moderngl_context.texture((128, 128), 4)  # MODULE-LEAK
    yield texture
    # forgot texture.release()


@pytest.fixture(scope="module")
def tidy_atlas(moderngl_context):
    texture = moderngl_context.texture((32, 32), 4)
    yield texture
    texture.release()


@pytest.mark.no_gl_leak
def test_a(atlas, tidy_atlas):
    assert atlas.size == (128, 128)


@pytest.mark.no_gl_leak
def test_b(atlas, tidy_atlas):
    assert tidy_atlas.size == (32, 32)
