"""Runner options end to end: the driver sweep (``--glleak-driver-sweep``) finds GL objects made behind
PyOpenGL's back."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("sweep", [True, False], ids=["sweep", "no-sweep"])
def test_driver_sweep_reports_textures_created_outside_pyopengl(
    pytester: pytest.Pytester, sweep: bool
) -> None:
    pytester.copy_example("runner/test_outside.py")
    report = pytester.path / "report.json"
    args = ["-p", "no:randomly", f"--glleak-json={report}"] + (["--glleak-driver-sweep"] if sweep else [])
    result = pytester.runpytest(*args)

    doc: dict[str, Any] = json.loads(report.read_text())
    tests = {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}
    if not sweep:
        # The ledger alone cannot see it: this is what the sweep adds.
        result.assert_outcomes(passed=4)
        assert tests["test_outside_kept"]["gl"]["leaked"] == []
        return
    result.assert_outcomes(passed=3, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "test_outside.py L... *",
            "*texture *, label 'created outside PyOpenGL', in call",
            "LEAKED test_outside.py::test_outside_kept - leaked 1 texture",
        ]
    )
    (leaked,) = tests["test_outside_kept"]["gl"]["leaked"]
    assert leaked["kind"] == "texture" and leaked["label"] == "created outside PyOpenGL"
    assert leaked["phase"] == "call" and leaked["bytes"] == 0  # bound once, never given an image
    assert tests["test_outside_kept"]["gl"]["created"] == {}  # no hook saw it made
    # A module-scoped fixture's texture is the fixture's; one deleted behind PyOpenGL's back too is gone;
    # the earlier leak is not blamed on later tests.
    assert tests["test_uses_module_fixture_made_outside"]["verdict"] == "clean"
    assert tests["test_outside_deleted"]["verdict"] == "clean"
    assert tests["test_after_the_leak"]["verdict"] == "clean"
    assert tests["test_after_the_leak"]["gl"]["created"] == {"texture": 1}


@pytest.mark.parametrize(
    ("sweep", "workers"),
    [(True, 0), (False, 0), pytest.param(True, 2, marks=pytest.mark.xdist)],
    ids=["sweep", "no-sweep", "sweep-xdist-2"],
)
def test_driver_sweep_covers_contexts_made_during_the_test(
    pytester: pytest.Pytester, sweep: bool, workers: int
) -> None:
    """A texture made through raw ctypes in an EGL context the test made itself: found by the sweep,
    with its phase and the bytes the driver reports; deleted, or gone with its context: clean. The same
    verdicts under ``-n 2``."""
    pytester.copy_example("runner/test_outside_context.py")
    report = pytester.path / "report.json"
    args = ["-p", "no:randomly", f"--glleak-json={report}"] + (["--glleak-driver-sweep"] if sweep else [])
    if workers:
        args += ["-n", str(workers)]
    result = pytester.runpytest(*args)

    doc: dict[str, Any] = json.loads(report.read_text())
    tests = {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}
    if not sweep:
        result.assert_outcomes(passed=4)  # no hook sees a raw ctypes texture
        return
    result.assert_outcomes(passed=2, errors=2)
    # Each error on its own: under -n 2 the workers' errors come in either order.
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_own_context_texture_kept*",
            "1 GL object leaked (1 texture), about 16.0 KiB of GPU memory:",
            "    - texture *, label 'created outside PyOpenGL', 16.0 KiB, in call",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_fixture_made_outside_kept*",
            "1 GL object leaked (1 texture), about 4.0 KiB of GPU memory:",
            "    - texture *, label 'created outside PyOpenGL', 4.0 KiB, in setup",
        ]
    )
    (kept,) = tests["test_own_context_texture_kept"]["gl"]["leaked"]
    assert (kept["kind"], kept["bytes"], kept["phase"]) == ("texture", 64 * 64 * 4, "call")
    (in_setup,) = tests["test_fixture_made_outside_kept"]["gl"]["leaked"]
    assert (in_setup["bytes"], in_setup["phase"]) == (32 * 32 * 4, "setup")
    assert tests["test_own_context_texture_deleted"]["verdict"] == "clean"
    assert tests["test_own_context_destroyed"]["verdict"] == "clean"


@pytest.mark.parametrize("strict", [False, True], ids=["notice", "warnings-as-errors"])
def test_marked_test_says_when_gl_objects_came_from_an_unhooked_binding(
    pytester: pytest.Pytester, strict: bool
) -> None:
    """A marked test that keeps a raw-ctypes texture passes with an UnhookedGLWarning (and a JSON note);
    a clean marked PyOpenGL test, a raw texture deleted again and an unmarked test say nothing. Under
    ``-W error::pytest_glleak.UnhookedGLWarning`` the notice is the test's teardown error."""
    pytester.copy_example("runner/test_unhooked.py")
    report = pytester.path / "report.json"
    args = ["-p", "no:randomly", f"--glleak-json={report}"]
    if strict:
        args += ["-W", "error::pytest_glleak.UnhookedGLWarning"]
    result = pytester.runpytest(*args)

    if strict:
        result.assert_outcomes(passed=4, errors=1)
        result.stdout.fnmatch_lines(["ERROR test_unhooked.py::test_marked_raw_texture_kept - *"])
        result.stdout.fnmatch_lines(
            ["E   *UnhookedGLWarning: pytest-glleak: GL objects made outside the hooked*"]
        )
        return
    result.assert_outcomes(passed=5, warnings=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "test_unhooked.py::test_marked_raw_texture_kept",
            "*UnhookedGLWarning: pytest-glleak: GL objects made outside the hooked bindings: 1 GL object "
            "(1 texture) appeared in the session's GL context during this test that no hooked binding "
            "(PyOpenGL, moderngl, pyglet) made; they are not checked for leaks: rerun with "
            "--glleak-driver-sweep to check them",
        ]
    )
    doc: dict[str, Any] = json.loads(report.read_text())
    unhooked = {entry["nodeid"].rsplit("::", 1)[-1]: entry["gl_unhooked"] for entry in doc["tests"]}
    assert unhooked == {
        "test_marked_pyopengl_clean": {},
        "test_marked_raw_texture_kept": {"texture": 1},
        "test_marked_raw_texture_deleted": {},
        "test_marked_pyopengl_after": {},
    }
