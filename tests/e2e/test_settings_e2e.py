"""The settings resolver end to end through pytest itself: each layer reaches the header and the context,
and a bad value is a usage error."""

from __future__ import annotations

import pytest

# End to end through pytest itself: each layer changes what the report header shows.
HEADER_PROBE = "def test_nothing():\n    pass\n"


@pytest.mark.parametrize(
    ("ini", "env", "args", "expected"),
    [
        ("", {}, [], "mode=marked"),
        ("glleak_mode = all\n", {}, [], "mode=all"),
        ("glleak_mode = all\n", {"PYTEST_GLLEAK_MODE": "off"}, [], "mode=off"),
        ("glleak_mode = all\n", {"PYTEST_GLLEAK_MODE": "off"}, ["--glleak-mode=marked"], "mode=marked"),
    ],
)
def test_layers_end_to_end(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ini: str,
    env: dict[str, str],
    args: list[str],
    expected: str,
) -> None:
    pytester.makeini("[pytest]\n" + ini)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(HEADER_PROBE)
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"glleak: {expected},*"])


def test_profile_setting_reaches_the_context(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nglleak_gl_profile = compat\nglleak_gl_version = 3.3\nglleak_size = 32x16\n")
    pytester.makepyfile(
        """
        def test_ctx(gl_context):
            assert gl_context.profile == "compat"
            assert gl_context.version_info >= (3, 3)
            assert (gl_context.width, gl_context.height) == (32, 16)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(HEADER_PROBE)
    result = pytester.runpytest("--glleak-backend=vulkan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-glleak: invalid value 'vulkan' for command-line option --glleak-backend*"]
    )


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nglleak_size = huge\n")
    pytester.makepyfile(HEADER_PROBE)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid value 'huge' for ini key glleak_size*"])
