"""Every leak on the right test: marks, factory contexts, shared display lists, threads, dead contexts.

User projects under ``tests/examples/ledger_blame`` run by pytester in real EGL.
"""

from __future__ import annotations

import pytest


def test_counts_stay_exact_after_thousands_of_marks(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/test_marks.py")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_objects_left_in_factory_contexts_are_the_tests_leaks(pytester: pytest.Pytester) -> None:
    pytester.copy_example("ledger_blame/test_factory_leaks.py")
    result = pytester.runpytest("-p", "no:cacheprovider", "-rE")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*LEAKED*test_ext_framebuffer_left_in_compat_factory_context*",
            "*LEAKED*test_textures_left_in_factory_context*",
        ]
    )
    result.stdout.fnmatch_lines(["*framebuffer*test_factory_leaks.py:9*"])
    result.stdout.no_fnmatch_line("*LEAKED*destroys*")
