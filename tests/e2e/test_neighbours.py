"""Foreign code that destroys, terminates or releases the plugin's GL context never breaks the run.

The test that broke the context gets one error naming what happened; the plugin makes a new context in
the same ``gl_context`` object, and the following tests (with GL or without) run normally.
"""

from __future__ import annotations

import json

import pytest

# Later tests: the same fixture object now holds a new, current context that works.
LATER_TESTS = """
@pytest.mark.no_gl_leak
def test_later_gl(gl_context):
    assert gl_context.is_current()
    assert gl_context.native_handle == current_handle()
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, 4, 4, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
    assert gl.glGetError() == gl.GL_NO_ERROR
    gl.glDeleteTextures([texture])


@pytest.mark.no_gl_leak
def test_later_leak_still_caught(gl_context):
    gl.glGenTextures(1)


def test_later_without_gl():
    pass
"""

HEADER = """
import pytest
import OpenGL.GL as gl
from OpenGL import EGL
from eglutil import current_handle, new_context
"""

LOST_LINE = (
    "*pytest-glleak: the GL context of this session was destroyed or made unusable during "
    "test_neighbour.py::test_breaks ({error}); a new context was made for the next tests*"
)


def _run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.copy_example("neighbours/eglutil.py")
    pytester.makepyfile(test_neighbour=HEADER + body + LATER_TESTS)
    return pytester.runpytest("-v", "-p", "no:randomly", "--glleak-json=out.json", *args)


def _recreated(pytester: pytest.Pytester) -> int:
    document = json.loads((pytester.path / "out.json").read_text())
    count = document["environment"]["contexts_recreated"]
    assert isinstance(count, int)
    return count


def _assert_one_error(result: pytest.RunResult, error: str) -> None:
    # One error on the test that broke the context; the leak of a later test is still caught (an error
    # at its teardown too). Whether the breaking test's passed call is counted as well is not ours here.
    outcomes = result.parseoutcomes()
    assert (outcomes.get("errors", 0), outcomes.get("failed", 0)) == (2, 0), outcomes
    result.stdout.fnmatch_lines(
        [
            "test_neighbour.py::test_later_gl PASSED*",
            "test_neighbour.py::test_later_without_gl PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            LOST_LINE.format(error=error),
            "*ERROR test_neighbour.py::test_breaks - *",
        ]
    )
    result.stdout.fnmatch_lines(["LEAKED test_neighbour.py::test_later_leak_still_caught - leaked 1 texture"])
    assert "INTERNALERROR" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize("marked", [True, False], ids=["marked", "unmarked"])
def test_destroyed_context_is_one_error_and_made_anew(pytester: pytest.Pytester, marked: bool) -> None:
    body = f"""
{"@pytest.mark.no_gl_leak" if marked else ""}
def test_breaks(gl_context):
    texture = gl.glGenTextures(1)  # died with the context: not a leak
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    assert EGL.eglDestroyContext(EGL.eglGetCurrentDisplay(), gl_context.native_handle)
    new_context()  # switch away: the destroyed context is really gone now
"""
    result = _run(pytester, body)
    _assert_one_error(result, "EGL error 0x3006 EGL_BAD_CONTEXT")
    assert "texture" not in result.stdout.str().split("test_later_leak_still_caught")[0]
    assert _recreated(pytester) == 1


def test_destroyed_while_current_is_noticed(pytester: pytest.Pytester) -> None:
    # A context destroyed while current stays current (a zombie) until released: still noticed.
    body = """
def test_breaks(gl_context):
    assert EGL.eglDestroyContext(EGL.eglGetCurrentDisplay(), gl_context.native_handle)
"""
    result = _run(pytester, body)
    _assert_one_error(result, "EGL error 0x3006 EGL_BAD_CONTEXT")


def test_terminated_display_is_one_error_and_made_anew(pytester: pytest.Pytester) -> None:
    # eglTerminate of the plugin's own display (Mesa gives every caller of eglGetPlatformDisplay for
    # the device the same EGLDisplay): what a renderer does when it is deleted.
    body = """
@pytest.mark.no_gl_leak
def test_breaks(gl_context):
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    assert EGL.eglTerminate(EGL.eglGetCurrentDisplay())
"""
    result = _run(pytester, body)
    _assert_one_error(result, "EGL error 0x3001 EGL_NOT_INITIALIZED")
    assert _recreated(pytester) == 1


def test_foreign_renderer_terminating_the_display(pytester: pytest.Pytester) -> None:
    # A renderer with its own context on the same display; what it made dies with eglTerminate too.
    body = """
@pytest.mark.no_gl_leak
def test_breaks(gl_context):
    dpy, surface, context = new_context()
    gl.glGenTextures(1)
    gl.glGenBuffers(1)
    assert EGL.eglTerminate(dpy)
    EGL.eglReleaseThread()
"""
    result = _run(pytester, body)
    _assert_one_error(result, "EGL error 0x3001 EGL_NOT_INITIALIZED")
    assert "LEAKED test_neighbour.py::test_breaks" not in result.stdout.str()


def test_terminated_with_extra_contexts(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.no_gl_leak
def test_breaks(gl_context, gl_context_factory):
    extra = gl_context_factory(share_with=gl_context)
    gl.glGenTextures(1)
    assert EGL.eglTerminate(EGL.eglGetCurrentDisplay())
"""
    result = _run(pytester, body)
    _assert_one_error(result, "EGL error 0x3001 EGL_NOT_INITIALIZED")
    assert _recreated(pytester) == 1


def test_released_context_is_made_current_silently(pytester: pytest.Pytester) -> None:
    body = """
@pytest.mark.no_gl_leak
def test_breaks(gl_context):
    dpy = EGL.eglGetCurrentDisplay()
    assert EGL.eglMakeCurrent(dpy, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
    assert not gl_context.is_current()
"""
    result = _run(pytester, body)
    result.assert_outcomes(passed=3, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "destroyed or made unusable" not in result.stdout.str()
    assert _recreated(pytester) == 0


def test_glfw_terminate_is_one_error_and_made_anew(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xvfb_display: str
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)
    pytester.copy_example("neighbours/test_glfw_terminate.py").rename(pytester.path / "test_neighbour.py")
    result = pytester.runpytest(
        "-p", "no:randomly", "--glleak-backend=glfw", "--glleak-json=out.json"
    )
    outcomes = result.parseoutcomes()
    assert (outcomes.get("errors", 0), outcomes.get("failed", 0)) == (2, 0), outcomes
    result.stdout.fnmatch_lines(
        [
            LOST_LINE.format(error="glfw was terminated"),
            "*ERROR test_neighbour.py::test_breaks - *",
        ]
    )
    result.stdout.fnmatch_lines(["LEAKED test_neighbour.py::test_later_leak_still_caught - leaked 1 texture"])
    assert "LEAKED test_neighbour.py::test_breaks" not in result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _recreated(pytester) == 1


def test_no_new_context_skips_later_gl_tests_only(pytester: pytest.Pytester) -> None:
    # Where no new context can be made (here: the rebuild is made to fail), the test that broke the
    # context errors once; later GL tests are skipped with the reason; tests without GL still pass.
    pytester.makeconftest(
        """
        from pytest_glleak.gl import ContextUnavailable
        from pytest_glleak.gl.egl import EGLContext

        def _fail(self):
            raise ContextUnavailable("no device left")

        EGLContext._rebuild = _fail
        """
    )
    body = """
def test_breaks(gl_context):
    assert EGL.eglDestroyContext(EGL.eglGetCurrentDisplay(), gl_context.native_handle)
    new_context()
"""
    result = _run(pytester, body, "-rs")
    outcomes = result.parseoutcomes()
    assert (outcomes.get("errors", 0), outcomes.get("skipped", 0)) == (1, 2), outcomes
    result.stdout.fnmatch_lines(["test_neighbour.py::test_later_without_gl PASSED*"])
    result.stdout.fnmatch_lines(
        [
            "*during test_neighbour.py::test_breaks: the session's GL context was destroyed or made "
            "unusable (EGL error 0x3006 EGL_BAD_CONTEXT) and no new one could be made: no device left*",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_broken_between_tests_is_a_warning(pytester: pytest.Pytester) -> None:
    # Broken outside any test (here: a project's before-check hook): no test is blamed, a warning says so.
    pytester.makeconftest(
        """
        from OpenGL import EGL

        def pytest_glleak_before_check(item):
            if item.name == "test_breaks":
                assert EGL.eglTerminate(EGL.eglGetCurrentDisplay())
        """
    )
    body = """
@pytest.mark.no_gl_leak
def test_breaks(gl_context):
    pass
"""
    result = _run(pytester, body)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*GLContextRecreatedWarning: pytest-glleak: the GL context of this session was destroyed or "
            "made unusable before test_neighbour.py::test_later_gl (EGL error 0x3001 EGL_NOT_INITIALIZED)*",
        ]
    )
    assert _recreated(pytester) == 1
