"""A failing leak check is that test's error, never an INTERNALERROR that ends the session."""

from __future__ import annotations

import pytest


def test_failing_before_check_hook_is_a_teardown_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_glleak_before_check(item):
            if item.name == "test_first":
                raise RuntimeError("cache clear failed")
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.no_gl_leak
        def test_first(gl_context):
            pass

        @pytest.mark.no_gl_leak
        def test_second(gl_context):
            assert gl_context.is_current()
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*the leak check of *::test_first failed: RuntimeError: cache clear failed*"]
    )
    assert "INTERNALERROR" not in result.stdout.str()
