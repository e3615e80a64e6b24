"""The gl_context fixture end to end, in user projects run by pytester in subprocesses."""

from __future__ import annotations

import pytest

TRIANGLE_TEST = '''
import numpy as np
import OpenGL.GL as gl
from OpenGL.GL import shaders

VS = """#version 330 core
layout(location=0) in vec2 pos;
void main() { gl_Position = vec4(pos, 0.0, 1.0); }"""
FS = """#version 330 core
out vec4 color;
void main() { color = vec4(1.0, 0.0, 0.0, 1.0); }"""


def test_triangle(gl_context):
    assert gl_context.is_current()
    program = shaders.compileProgram(
        shaders.compileShader(VS, gl.GL_VERTEX_SHADER), shaders.compileShader(FS, gl.GL_FRAGMENT_SHADER)
    )
    vao = gl.glGenVertexArrays(1)
    gl.glBindVertexArray(vao)
    vbo = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, vbo)
    vertices = np.array([-1, -1, 0, -1, -1, 0], dtype=np.float32)  # lower-left half only
    gl.glBufferData(gl.GL_ARRAY_BUFFER, vertices.nbytes, vertices, gl.GL_STATIC_DRAW)
    gl.glEnableVertexAttribArray(0)
    gl.glVertexAttribPointer(0, 2, gl.GL_FLOAT, False, 0, None)
    gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, gl_context.framebuffer)
    gl.glClearColor(0, 0, 1, 1)
    gl.glClear(gl.GL_COLOR_BUFFER_BIT)
    gl.glUseProgram(program)
    gl.glDrawArrays(gl.GL_TRIANGLES, 0, 3)
    pixels = gl.glReadPixels(0, 0, gl_context.width, gl_context.height, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE)
    image = np.frombuffer(pixels, dtype=np.uint8).reshape(gl_context.height, gl_context.width, 4)
    assert tuple(image[2, 2]) == (255, 0, 0, 255)                       # inside the triangle
    assert tuple(image[-3, -3]) == (0, 0, 255, 255)                     # outside: clear colour
    gl.glDeleteBuffers(1, [vbo])
    gl.glDeleteVertexArrays(1, [vao])
    gl.glDeleteProgram(program)
'''


def test_triangle_renders_headless_under_egl(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_draw=TRIANGLE_TEST)
    result = pytester.runpytest("--glleak-backend=egl")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["glleak: mode=marked, PyOpenGL platform=egl, egl-*, *OpenGL 4.*core profile*"]
    )


def test_default_backend_is_headless_egl(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_draw=TRIANGLE_TEST)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["glleak: *PyOpenGL platform=egl, egl-*"])


def test_triangle_renders_in_hidden_glfw_window(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xvfb_display: str
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)
    pytester.makepyfile(test_draw=TRIANGLE_TEST)
    result = pytester.runpytest("--glleak-backend=glfw")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["glleak: *PyOpenGL platform=glx, glfw (x11), *OpenGL 4.*"])


@pytest.mark.xdist
def test_each_xdist_worker_has_its_own_context(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_draw=TRIANGLE_TEST)
    pytester.makepyfile(
        test_workers="""
        import os, pytest

        @pytest.mark.parametrize("index", range(6))
        def test_context_in_worker(gl_context, index, tmp_path_factory):
            assert gl_context.is_current()
            root = tmp_path_factory.getbasetemp().parent
            (root / f"ctx-{os.getpid()}-{index}").write_text(hex(gl_context.native_handle))
        """
    )
    result = pytester.runpytest("-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=7)
    pids = {path.name.split("-")[1] for path in pytester.path.glob("**/ctx-*")}
    assert len(pids) == 2, pids


def test_missing_driver_skips_with_reason(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # glvnd finds no EGL vendor library: the state of a machine without Mesa's or a GPU's EGL driver.
    monkeypatch.setenv("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl_vendor.json")
    pytester.makepyfile(
        """
        def test_needs_gl(gl_context):
            raise AssertionError("must not run without GL")

        def test_without_gl():
            pass
        """
    )
    result = pytester.runpytest("-rs", "--glleak-backend=egl")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED*pytest-glleak: no OpenGL context could be created*apt-get install*"]
    )
    assert result.ret == 0


def test_require_gl_turns_the_skip_into_an_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl_vendor.json")
    pytester.makepyfile("def test_needs_gl(gl_context):\n    pass\n")
    result = pytester.runpytest("--glleak-backend=egl", "--glleak-require-gl")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pytest-glleak: no OpenGL context could be created*"])
    assert result.ret == 1


def test_require_gl_from_ini_is_not_masked_by_the_flag_default(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl_vendor.json")
    pytester.makeini("[pytest]\nglleak_require_gl = true\nglleak_backend = egl\n")
    pytester.makepyfile("def test_needs_gl(gl_context):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)


def test_glfw_without_display_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_needs_gl(gl_context):\n    pass\n")
    result = pytester.runpytest("-rs", "--glleak-backend=glfw")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*glfw: no DISPLAY or WAYLAND_DISPLAY is set*xvfb*"])


def test_auto_falls_back_to_glfw_when_egl_is_missing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xvfb_display: str
) -> None:
    monkeypatch.setenv("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl_vendor.json")
    monkeypatch.setenv("PYOPENGL_PLATFORM", "glx")
    monkeypatch.setenv("DISPLAY", xvfb_display)
    pytester.makepyfile(test_draw=TRIANGLE_TEST)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["glleak: *PyOpenGL platform=glx, glfw (x11)*"])


def test_platform_already_fixed_for_another_window_system_is_a_clear_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYOPENGL_PLATFORM", "glx")
    pytester.makepyfile("def test_needs_gl(gl_context):\n    pass\n")
    result = pytester.runpytest("--glleak-backend=egl")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*PyOpenGL's platform is 'glx'*PYOPENGL_PLATFORM=egl*"])


def test_platform_is_chosen_before_conftest_imports_opengl(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import OpenGL.GL  # fixes PyOpenGL's platform at import time
        import OpenGL.platform

        def pytest_report_header():
            return "conftest saw platform " + type(OpenGL.platform.PLATFORM).__name__
        """
    )
    pytester.makepyfile(test_draw=TRIANGLE_TEST)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["conftest saw platform EGLPlatform"])


def test_user_platform_is_never_overridden(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYOPENGL_PLATFORM", "egl")
    pytester.makepyfile(
        """
        import os
        def test_platform(gl_context):
            assert os.environ["PYOPENGL_PLATFORM"] == "egl"
        """
    )
    result = pytester.runpytest("--glleak-backend=auto")
    result.assert_outcomes(passed=1)


STATE_TESTS = """
import ctypes
import OpenGL.GL as gl
from pytest_glleak.gl import create_context

other = []

def test_a_leaves_a_mess(gl_context):
    texture = gl.glGenTextures(1)
    gl.glActiveTexture(gl.GL_TEXTURE3)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    buffer = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    vao = gl.glGenVertexArrays(1)
    gl.glBindVertexArray(vao)
    gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
    fbo = gl.glGenFramebuffers(1)
    gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, fbo)
    # leave an error flag raised, and another context current
    gl.glGetError.__class__  # keep PyOpenGL from raising on the bad enum below
    try:
        gl.glEnable(0xFFFF)
    except gl.GLError:
        pass
    other.append(create_context("egl", size=(8, 8)))
    assert not gl_context.is_current()

def test_b_starts_clean(gl_context):
    assert gl_context.is_current()
    assert gl.glGetError() == gl.GL_NO_ERROR
    assert gl.glGetIntegerv(gl.GL_ACTIVE_TEXTURE) == gl.GL_TEXTURE0
    gl.glActiveTexture(gl.GL_TEXTURE3)
    assert gl.glGetIntegerv(gl.GL_TEXTURE_BINDING_2D) == 0
    gl.glActiveTexture(gl.GL_TEXTURE0)
    assert gl.glGetIntegerv(gl.GL_ARRAY_BUFFER_BINDING) == 0
    assert gl.glGetIntegerv(gl.GL_VERTEX_ARRAY_BINDING) == 0
    assert gl.glGetIntegerv(gl.GL_FRAMEBUFFER_BINDING) == gl_context.framebuffer
    assert gl.glGetIntegerv(gl.GL_UNPACK_ALIGNMENT) == 4
    assert gl.glGetIntegerv(gl.GL_CURRENT_PROGRAM) == 0
    other[0].destroy()
"""


def test_state_is_reset_between_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_state=STATE_TESTS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


FACTORY_TESTS = """
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
"""


def test_gl_context_factory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_factory=FACTORY_TESTS)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4)
