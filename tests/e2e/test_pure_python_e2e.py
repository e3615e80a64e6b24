"""``PYTEST_GLLEAK_PURE_PYTHON`` reaches the subprocess runs of the suite (``tox -e purepython``)."""

from __future__ import annotations

import pytest

from pytest_glleak import speedups


def test_pytester_runs_use_the_same_implementation_as_the_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pytest_glleak import speedups

        def test_implementation():
            print("NATIVE", speedups.native is not None, speedups.why_pure or "-")
        """
    )
    result = pytester.runpytest("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*NATIVE {speedups.native is not None} {speedups.why_pure or '-'}*"])
