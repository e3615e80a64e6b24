import OpenGL.GL as gl
import pytest


def test_counts_and_marks(gl_ledger, gl_context):
    first = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, first)
    assert gl_ledger.created("texture") == 1
    mark = gl_ledger.mark()
    buffer = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    assert [record.kind for record in gl_ledger.leaks_since(mark)] == ["buffer"]
    gl.glDeleteBuffers(1, [buffer])
    assert gl_ledger.leaks_since(mark) == []
    assert gl_ledger.deleted("buffer") == 1
    assert {record.name for record in gl_ledger.live("texture")} >= {int(first)}
    with pytest.raises(AssertionError, match="1 texture"):
        gl_ledger.assert_no_leaks()
    gl_ledger.assert_no_leaks(kinds=["buffer"])
    gl.glDeleteTextures([first])
    gl_ledger.assert_no_leaks()
