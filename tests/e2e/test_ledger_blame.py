"""Every leak on the right test: marks, factory contexts, shared display lists, threads, dead contexts.

User projects under ``tests/examples/ledger_blame`` run by pytester in real EGL.
"""

from __future__ import annotations

import pytest


def test_counts_stay_exact_after_thousands_of_marks(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/test_marks.py")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
