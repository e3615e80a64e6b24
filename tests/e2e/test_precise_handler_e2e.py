"""Precise image checks through NumPy's data-memory handler, end to end (tracemalloc never starts)."""

from __future__ import annotations

import pytest


def test_precise_handler_catches_derived_arrays_and_tobytes_and_exits_cleanly(
    pytester: pytest.Pytester,
) -> None:
    pytester.copy_example("precise_handler/test_handler.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    lines = (pytester.path / "test_handler.py").read_text().splitlines()
    for marker in ("TOBYTES", "ARITHMETIC", "AT_EXIT"):
        line = next(n for n, text in enumerate(lines, 1) if f"# {marker}" in text)
        result.stdout.fnmatch_lines([f"*test_handler.py:{line}*"])
    result.stdout.fnmatch_lines(
        [
            "LEAKED test_handler.py::test_keeps_tobytes_output*",
            "LEAKED test_handler.py::test_keeps_an_arithmetic_result*",
            "LEAKED test_handler.py::test_keeps_an_array_until_interpreter_exit*",
        ]
    )
    assert "Fatal Python error" not in result.stderr.str()
