"""Nothing of pytest-glleak ends a user's run: faults injected into each of its hooks become one test's
error (or a counted warning), the session goes on, reports stay honest and complete."""

from __future__ import annotations

import json
from typing import Any

import pytest


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def _no_internal_error(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)


def test_plain_run_without_xdist_catches_a_leak(pytester: pytest.Pytester) -> None:
    # The plain-install case: xdist's hookspecs are absent, so its hooks must not be registered.
    pytester.copy_example("never_break/test_leaky_and_clean.py").rename(pytester.path / "test_plain_run_without_xdist_catches_a_leak.py")
    result = _run(pytester, "-p", "no:xdist")
    _no_internal_error(result)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["LEAKED test_plain_run_without_xdist_catches_a_leak.py::test_leaks*"])


@pytest.mark.parametrize(
    "conftest",
    [
        'import pytest\ndef pytest_glleak_before_check(item):\n    if item.name == "test_a":\n'
        '        pytest.fail("cache could not be cleared")\n',
        'def pytest_glleak_before_check(item):\n    if item.name == "test_a":\n'
        '        raise RuntimeError("cache could not be cleared")\n',
        'import pytest\ndef pytest_glleak_before_check(item):\n    if item.name == "test_a":\n'
        '        pytest.skip("cache could not be cleared")\n',
    ],
    ids=["pytest.fail", "RuntimeError", "pytest.skip"],
)
def test_a_failing_before_check_hook_is_that_tests_error(pytester: pytest.Pytester, conftest: str) -> None:
    pytester.makeconftest(conftest)
    pytester.copy_example("never_break/test_leaky_and_clean.py").rename(pytester.path / "test_h.py")
    report = pytester.path / "o.json"
    result = _run(pytester, f"--glleak-json={report}")
    _no_internal_error(result)
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_a*",
            "pytest-glleak: the leak check of test_h.py::test_a failed: *: cache could not be cleared*",
        ]
    )
    doc = json.loads(report.read_text())
    assert doc["summary"]["partial"] is False
    outcomes = {entry["nodeid"]: entry["outcome"] for entry in doc["tests"]}
    assert outcomes["test_h.py::test_leaks"] == "leaked"  # later tests were still checked


def test_a_timeout_during_the_check_fails_that_test_only(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_timeout")
    pytester.makeconftest(
        """
        import time
        def pytest_glleak_before_check(item):
            if "slow_check" in item.name:
                time.sleep(3)
        """
    )
    pytester.makepyfile(
        test_to2="""
        import pytest
        import OpenGL.GL as gl

        @pytest.mark.no_gl_leak
        def test_slow_check(gl_context):
            t = gl.glGenTextures(1); gl.glBindTexture(gl.GL_TEXTURE_2D, t)

        @pytest.mark.no_gl_leak
        def test_after(gl_context):
            pass

        def test_after2():
            pass
        """
    )
    result = _run(pytester, "--timeout=1", "--timeout-method=signal")
    _no_internal_error(result)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*the leak check of test_to2.py::test_slow_check failed: Failed: Timeout*"])


# target to patch in the subprocess -> where the fault lands
FAULTS: dict[str, tuple[str, str]] = {
    "setup": ("pytest_glleak.heap.tracker.ImageTracker.start", "the set-up of"),
    "call": ("pytest_glleak.runner.CheckRunner._phase", "the call set-up of"),
    "check": ("pytest_glleak.ledger.Ledger.leaks_since", "the leak check of"),
    "growth": ("pytest_glleak.heap.growth.MemoryBaseline.measure", "the memory measurement of"),
    "restore": ("pytest_glleak.gl.provider.ContextProvider.restore", "restoring the GL context before"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_in_a_test_hook_is_one_tests_error(pytester: pytest.Pytester, fault: str) -> None:
    target, phrase = FAULTS[fault]
    module, owner, name = target.rsplit(".", 2)
    pytester.makeconftest(
        f"""
        import importlib
        owner = getattr(importlib.import_module("{module}"), "{owner}")

        def _boom(*args, **kwargs):
            raise RuntimeError("injected fault")

        setattr(owner, "{name}", _boom)
        """
    )
    pytester.copy_example("never_break/test_leaky_and_clean.py").rename(pytester.path / "test_f.py")
    result = _run(pytester)
    _no_internal_error(result)
    result.stdout.fnmatch_lines([f"pytest-glleak: {phrase}*test_f.py::*: RuntimeError: injected fault*"])
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) >= 1
    # The session went on: all four tests ran to an outcome.
    assert sum(outcomes.get(key, 0) for key in ("passed", "failed", "errors")) >= 4


@pytest.mark.parametrize(
    "patch",
    [
        "import pytest_glleak.runner as module\nmodule.junit_properties = _boom",
        "import pytest_glleak.report.run as module\nmodule.RunReport.add = _boom",
    ],
    ids=["makereport", "logreport"],
)
def test_a_fault_in_report_bookkeeping_is_a_counted_warning(pytester: pytest.Pytester, patch: str) -> None:
    pytester.makeconftest(
        "def _boom(*args, **kwargs):\n    raise RuntimeError('injected fault')\n\n" + patch + "\n"
    )
    pytester.copy_example("never_break/test_leaky_and_clean.py").rename(pytester.path / "test_f.py")
    report = pytester.path / "o.json"
    result = _run(pytester, f"--glleak-json={report}")
    _no_internal_error(result)
    result.stdout.fnmatch_lines(
        ["glleak: WARNING: pytest-glleak caught * internal error*", "*injected fault*"]
    )
    doc = json.loads(report.read_text())
    assert doc["summary"]["internal_errors"] >= 1


HOOK_BUG = """
import pytest_glleak.ledger as ledger_module

original = ledger_module.Ledger._handlers

def _handlers(self):
    handlers = original(self)
    def broken(args, result):
        raise ValueError("ledger bug")
    handlers["glGenBuffers"] = broken
    return handlers

ledger_module.Ledger._handlers = _handlers
"""


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_errors_inside_gl_hooks_are_shown_counted_and_strict_fails(
    pytester: pytest.Pytester, strict: bool
) -> None:
    pytester.makeconftest(HOOK_BUG)
    pytester.copy_example("never_break/test_hook.py")
    report = pytester.path / "o.json"
    result = _run(pytester, f"--glleak-json={report}", *(["--glleak-strict-internal"] if strict else []))
    assert "INTERNALERROR" not in result.stdout.str()
    result.assert_outcomes(passed=1)  # the user's GL call itself never sees the bug
    result.stdout.fnmatch_lines(
        [
            "glleak: WARNING: pytest-glleak caught 1 internal error *, in a GL call hook:",
            "*ValueError: ledger bug",
        ]
    )
    doc: dict[str, Any] = json.loads(report.read_text())
    assert doc["summary"]["internal_errors"] == 1
    assert result.ret == (pytest.ExitCode.INTERNAL_ERROR if strict else pytest.ExitCode.OK)


@pytest.mark.xdist
def test_hook_errors_of_xdist_workers_reach_the_controller(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(HOOK_BUG)
    pytester.copy_example("never_break/test_hook.py")
    report = pytester.path / "o.json"
    result = _run(pytester, "-n", "2", f"--glleak-json={report}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["glleak: WARNING: pytest-glleak caught 1 internal error*"])
    assert json.loads(report.read_text())["summary"]["internal_errors"] == 1


# --- honest reports --------------------------------------------------------------------------------
def test_errors_stay_errors_and_keep_their_leak_sections(pytester: pytest.Pytester) -> None:
    pytester.copy_example("never_break/test_fx.py")
    report = pytester.path / "o.json"
    result = _run(pytester, f"--glleak-json={report}", "-rA")
    _no_internal_error(result)
    result.assert_outcomes(failed=1, errors=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_teardown_raises_and_leaks*",
            "*RuntimeError: teardown boom",
            "*- glleak: leaks -*",
            "3 GL objects leaked (3 textures):",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*glleak: leaks of tests that failed for another reason*",
            "test_fx.py::test_setup_fails_and_leaks:",
            "  4 GL objects leaked (4 textures):",
        ]
    )
    assert "test_fx.py::test_call_fails_and_leaks:" in out
    result.stdout.fnmatch_lines(
        ["ERROR test_fx.py::test_teardown_raises_and_leaks - RuntimeError: teardown boom"]
    )
    assert "LEAKED test_fx.py::test_teardown_raises_and_leaks" not in out
    doc = json.loads(report.read_text())
    tests = {entry["nodeid"].split("::")[1]: entry for entry in doc["tests"]}
    assert tests["test_teardown_raises_and_leaks"]["outcome"] == "error"
    assert len(tests["test_teardown_raises_and_leaks"]["gl"]["leaked"]) == 3
    assert tests["test_setup_fails_and_leaks"]["outcome"] == "error"
    assert len(tests["test_setup_fails_and_leaks"]["gl"]["leaked"]) == 4
    assert tests["test_call_fails_and_leaks"]["outcome"] == "failed"
    assert len(tests["test_call_fails_and_leaks"]["gl"]["leaked"]) == 2


def test_durations_keep_the_call_of_a_leaked_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_d="""
        import time, pytest
        import OpenGL.GL as gl

        @pytest.mark.no_gl_leak
        def test_slow_leaky(gl_context):
            time.sleep(0.5)
            t = gl.glGenTextures(1); gl.glBindTexture(gl.GL_TEXTURE_2D, t)
        """
    )
    result = _run(pytester, "--durations=5", "--durations-min=0.2")
    result.stdout.fnmatch_lines(["*slowest 5 durations*", "0.5*s call *test_d.py::test_slow_leaky"])


@pytest.mark.parametrize("style", ["auto", "long", "short", "line", "native", "no"])
def test_every_traceback_style_prints_a_readable_reason(pytester: pytest.Pytester, style: str) -> None:
    written = pytester.copy_example("never_break/test_leaky_and_clean.py").rename(pytester.path / "test_tb.py").read_text()
    line = next(number for number, text in enumerate(written.splitlines(), 1) if "# LEAK" in text)
    result = _run(pytester, f"--tb={style}")
    out = result.stdout.str()
    assert " object at 0x" not in out
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["LEAKED test_tb.py::test_leaks - leaked 1 texture"])
    if style != "no":  # pytest prints errors whole in every other style
        result.stdout.fnmatch_lines([f"  1 texture created at test_tb.py:{line} in test_leaks():"])


def test_junit_counts_a_leak_as_one_error(pytester: pytest.Pytester) -> None:
    import xml.etree.ElementTree as ET

    pytester.copy_example("never_break/test_leaky_and_clean.py").rename(pytester.path / "test_j.py")
    junit = pytester.path / "junit.xml"
    result = _run(pytester, f"--junitxml={junit}")
    result.assert_outcomes(passed=3, errors=1)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("errors"), suite.get("failures")) == ("1", "0")
    assert len(suite.findall("testcase")) == 4
    # pytest 8.0's own junitxml counts a passed call plus a teardown error as two tests; later ones as one.
    assert suite.get("tests") in (("4", "5") if pytest.version_tuple < (8, 1) else ("4",))
    (error,) = suite.iter("error")
    assert error.get("message") == 'failed on teardown with "leaked 1 texture"'
