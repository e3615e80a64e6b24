import OpenGL.GL as gl
import pytest

pytestmark = pytest.mark.no_gl_leak(kinds=["buffer"])


def _leak_texture_and_buffer():
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    buffer = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)


def test_module_mark_only(gl_context):
    _leak_texture_and_buffer()


@pytest.mark.no_gl_leak(kinds=["texture"])
@pytest.mark.no_gl_leak(kinds=["buffer"], allow={"buffer": 1})
def test_twice(gl_context):
    _leak_texture_and_buffer()


@pytest.mark.no_gl_leak(kinds=["texture"], allow={"texture": 1})
class TestClassMark:
    def test_in_class(self, gl_context):
        _leak_texture_and_buffer()

    @pytest.mark.no_gl_leak(allow={"buffer": 1})
    def test_allowed_by_merge(self, gl_context):
        _leak_texture_and_buffer()
