"""Validation end to end (issue 10): bad command-line, env and ini values exit 4 naming the value and its
source; the typed ini keys of pytest's native ``[tool.pytest]`` TOML table."""

from __future__ import annotations

import os

import pytest

HUGE = "1" + "0" * 400
PYTEST_9_2 = tuple(part for part in pytest.version_tuple[:2] if isinstance(part, int)) >= (9, 2)
SETTINGS_PROBE = """
from pytest_glleak.plugin import settings_key


def test_settings(pytestconfig):
    resolved = pytestconfig.stash[settings_key]
    print("RESOLVED", resolved.report, resolved.cleanup, resolved.stack_depth, resolved.image_min_bytes,
          resolved.baseline_tolerance, resolved.gl_version, resolved.mode)
    print("SOURCE", resolved.sources["report"], "|", resolved.sources["image_min_bytes"])
"""


@pytest.mark.parametrize(
    ("mark", "problem"),
    [
        ('max_memory_growth(float("inf"))', "a byte count must be a finite number"),
        ('max_memory_growth(float("nan"))', "a byte count must be a finite number"),
        ("max_memory_growth(10**400)", "at most 1 PiB"),
        ("max_memory_growth(-1)", "cannot be negative"),
        (f'no_image_leak(min_bytes="{HUGE}")', "at most 1 PiB"),
        ("no_image_leak(min_bytes=1e309)", "finite"),
        ('no_gl_leak(kinds={"texture": 1})', "must be a GL object kind or a list, tuple or set"),
        ('no_gl_leak(allow={"bogus": 1})', "unknown GL object kind(s) ('bogus',)"),
        ('no_gl_leak(allow={"texture": -1})', "count of 0 or more"),
    ],
)
def test_bad_marker_is_a_usage_error_naming_test_and_value(
    pytester: pytest.Pytester, mark: str, problem: str
) -> None:
    pytester.makepyfile(f"import pytest\n\n\n@pytest.mark.{mark}\ndef test_m():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*@pytest.mark.{mark.split('(')[0]}(*) on test_*.py::test_m: *{problem}*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_empty_allow_and_kind_sets_are_accepted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest


        @pytest.mark.no_gl_leak(allow={})
        def test_empty_allow():
            pass


        @pytest.mark.no_gl_leak(kinds={"texture"}, allow={"texture": 2})
        def test_set_of_kinds():
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


# --- command line, env and ini end to end ---------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([f"--glleak-image-min-bytes={HUGE}"], {}, "*invalid value '1000*(403 chars) for command-line option "
         "--glleak-image-min-bytes: a byte count must be at most 1 PiB*"),
        (["--glleak-baseline-tolerance=nan"], {}, "*invalid value 'nan' for command-line option "
         "--glleak-baseline-tolerance: a tolerance must be a finite number*"),
        (["--glleak-gl-version=4.9"], {}, "*'4.9' for command-line option --glleak-gl-version: there is no "
         "OpenGL version 4.9*"),
        (["--glleak-gl-version=4.06"], {}, "*'4.06' for command-line option --glleak-gl-version*"),
        ([], {"PYTEST_GLLEAK_GL_VERSION": "3.9"}, "*'3.9' for environment variable PYTEST_GLLEAK_GL_VERSION*"),
        ([], {"PYTEST_GLLEAK_BASELINE_TOLERANCE": "1e309"}, "*'1e309' for environment variable "
         "PYTEST_GLLEAK_BASELINE_TOLERANCE: a tolerance must be a finite number*"),
    ],
)  # fmt: skip
def test_cli_and_env_errors_exit_4(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    expected: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile("def test_x(gl_context):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "Traceback" not in result.stderr.str() and "SKIPPED" not in result.stdout.str()


def test_ini_options_strings_still_work(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        glleak_report = "true"
        glleak_cleanup = "no"
        glleak_stack_depth = "9"
        glleak_image_min_bytes = "64 KiB"
        glleak_baseline_tolerance = "25%"
        glleak_gl_version = "4.5"
        """
    )
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RESOLVED True False 9 65536 0.25 (4, 5) marked"])


def test_ini_options_table_native_toml_values_and_overrides(pytester: pytest.Pytester) -> None:
    # In [tool.pytest.ini_options] pytest hands TOML numbers and booleans over as text; -o as well.
    pytester.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        glleak_report = true
        glleak_stack_depth = 9
        glleak_image_min_bytes = 1024
        """
    )
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RESOLVED True True 9 1024 0.1 None marked"])
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", "-o", "glleak_report=false")
    result.stdout.fnmatch_lines(["*RESOLVED False True 9 1024 0.1 None marked"])
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "glleak_report=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid value 'maybe' for ini key glleak_report*"])


def test_ini_file_bad_value_exits_4(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nglleak_image_min_bytes = -5\n")
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid value '-5' for ini key glleak_image_min_bytes*"])


@pytest.mark.skipif(not PYTEST_9_2, reason="typed unions in [tool.pytest] need pytest >= 9.2")
def test_native_tool_pytest_table_takes_typed_values(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(
        """
        [tool.pytest]
        glleak_report = true
        glleak_cleanup = false
        glleak_stack_depth = 9
        glleak_image_min_bytes = 65536
        glleak_baseline_tolerance = 0.25
        glleak_gl_version = 4.5
        glleak_mode = "marked"
        """
    )
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*RESOLVED True False 9 65536 0.25 (4, 5) marked",
            "SOURCE ini key glleak_report | ini key glleak_image_min_bytes",
        ]
    )


@pytest.mark.skipif(not PYTEST_9_2, reason="typed unions in [tool.pytest] need pytest >= 9.2")
def test_native_tool_pytest_table_also_takes_strings(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.pytest]\nglleak_report = "yes"\nglleak_image_min_bytes = "1 MiB"\n')
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*RESOLVED True True 6 1048576 0.1 None marked"])


@pytest.mark.skipif(not PYTEST_9_2, reason="typed unions in [tool.pytest] need pytest >= 9.2")
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("glleak_image_min_bytes = -5", "*invalid value -5 for ini key glleak_image_min_bytes: *cannot be negative*"),
        ("glleak_image_min_bytes = 1e400", "*invalid value for ini key glleak_image_min_bytes*got float: inf*"),
        ("glleak_baseline_tolerance = nan", "*invalid value nan for ini key glleak_baseline_tolerance*finite*"),
        ("glleak_gl_version = 4.9", "*invalid value 4.9 for ini key glleak_gl_version*no OpenGL version 4.9*"),
        ("glleak_mode = 3", "*invalid value for ini key glleak_mode*glleak_mode*3*"),
        ("glleak_report = 3", "*invalid value for ini key glleak_report*3*"),
        ("glleak_stack_depth = 5000", "*invalid value 5000 for ini key glleak_stack_depth*"),
    ],
)  # fmt: skip
def test_native_tool_pytest_table_bad_values_exit_4(
    pytester: pytest.Pytester, line: str, expected: str
) -> None:
    pytester.makepyprojecttoml(f"[tool.pytest]\n{line}\n")
    pytester.makepyfile(SETTINGS_PROBE)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


# --- gl_context_factory ---------------------------------------------------------------------------


def test_gl_context_factory_refuses_versions_that_do_not_exist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest


        @pytest.mark.parametrize("version", [(4, 9), "4.9", (3, 0), "4.06", (4,), ("4", "5")])
        def test_bad(gl_context_factory, version):
            with pytest.raises(ValueError, match="gl_context_factory: bad version") as caught:
                gl_context_factory(version=version)
            assert repr(version) in str(caught.value)


        def test_good(gl_context_factory):
            context = gl_context_factory(version=(3, 3))
            assert context.version_info >= (3, 3)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


BOGUS_BASELINE = (
    b'{"format": "pytest-glleak-baseline", "format_version": 1, "environment": {},\n'
    b' "tests": {"test_b.py::test_b": {"leaks": [{"kind": "bogus", "site": "test_b.py:2 in test_b", '
    b'"count": 1}]}}}\n'
)


def test_a_baseline_of_an_unknown_kind_exits_4_and_stays_untouched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_b="def test_b():\n    pass\n")
    base = pytester.path / "base.json"
    base.write_bytes(BOGUS_BASELINE)
    before = os.stat(base).st_mtime_ns
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--glleak-baseline=base.json", "--glleak-baseline-update"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*base.json*kind 'bogus' is not a known leak kind*left untouched*"])
    assert base.read_bytes() == BOGUS_BASELINE and os.stat(base).st_mtime_ns == before
