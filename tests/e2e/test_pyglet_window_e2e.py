"""pyglet with a real window (not headless) under a private Xvfb server: its objects are ledgered with
the user's line, whichever backend the plugin's own context uses."""

from __future__ import annotations

import pytest


def _line(pytester: pytest.Pytester, name: str, tag: str) -> int:
    text = (pytester.path / name).read_text()
    return next(number for number, line in enumerate(text.splitlines(), 1) if tag in line)


@pytest.mark.parametrize("backend", ["egl", "glfw"])
def test_pyglet_window_texture_kept_leaks_with_line_deleted_is_clean(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, xvfb_display: str, backend: str
) -> None:
    pytest.importorskip("pyglet")
    if backend == "glfw":
        pytest.importorskip("glfw")
    monkeypatch.setenv("DISPLAY", xvfb_display)
    pytester.copy_example("pyglet/test_window.py")
    result = pytester.runpytest("-p", "no:randomly", f"--glleak-backend={backend}")
    result.assert_outcomes(passed=2, errors=1)
    name = "test_window.py"
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_texture_kept*",
            "1 GL object leaked (1 texture), about 16.0 KiB of GPU memory:",
            f"  1 texture created at {name}:{_line(pytester, name, 'TEXTURE-LEAK')} in test_texture_kept():",
            f"LEAKED {name}::test_texture_kept - leaked 1 texture",
        ]
    )
    result.stdout.no_fnmatch_line("*UnhookedGLWarning*")
