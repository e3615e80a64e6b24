"""The gl_context fixture end to end, in user projects run by pytester in subprocesses."""

from __future__ import annotations

import pytest


def test_triangle_renders_headless_under_egl(pytester: pytest.Pytester) -> None:
    pytester.copy_example("context/test_draw.py")
    result = pytester.runpytest("--glleak-backend=egl")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["glleak: mode=marked, PyOpenGL platform=egl, egl-*, *OpenGL 4.*core profile*"]
    )


def test_default_backend_is_headless_egl(pytester: pytest.Pytester) -> None:
    pytester.copy_example("context/test_draw.py")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["glleak: *PyOpenGL platform=egl, egl-*"])


def test_triangle_renders_in_hidden_glfw_window(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xvfb_display: str
) -> None:
    monkeypatch.setenv("DISPLAY", xvfb_display)
    pytester.copy_example("context/test_draw.py")
    result = pytester.runpytest("--glleak-backend=glfw")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["glleak: *PyOpenGL platform=glx, glfw (x11), *OpenGL 4.*"])


@pytest.mark.xdist
def test_each_xdist_worker_has_its_own_context(pytester: pytest.Pytester) -> None:
    pytester.copy_example("context/test_draw.py")
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
    # runpytest puts the run's basetemp beside pytester.path; the workers' files are looked for inside it.
    result = pytester.runpytest("-n", "2", "-p", "xdist", f"--basetemp={pytester.path / 'basetemp'}")
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
    pytester.copy_example("context/test_draw.py")
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
    pytester.copy_example("context/test_draw.py")
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


def test_state_is_reset_between_tests(pytester: pytest.Pytester) -> None:
    pytester.copy_example("context/test_state.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_gl_context_factory(pytester: pytest.Pytester) -> None:
    pytester.copy_example("context/test_factory.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=4)
