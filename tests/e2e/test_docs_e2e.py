"""``--help`` lists every option and ini key the README's options table documents."""

from __future__ import annotations

import pytest

from pytest_glleak.settings import OPTIONS


def test_help_lists_every_option_and_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    for option in OPTIONS:
        assert option.flag in text
        if option.negative_flag:
            assert option.negative_flag in text
        if option.ini:
            assert option.ini in text


README = (__import__("pathlib").Path(__file__).resolve().parents[2] / "README.md").read_text()

SAMPLE = """
import pytest
import OpenGL.GL as gl


@pytest.mark.no_gl_leak
def test_forgets_a_texture(gl_context):
    gl.glBindTexture(gl.GL_TEXTURE_2D, gl.glGenTextures(1))


def test_clean(gl_context):
    gl.glDeleteTextures([gl.glGenTextures(1)])
"""


def _recipe_commands() -> list[list[str]]:
    """The pytest command of each CI recipe in the README (YAML folded lines joined)."""
    import re
    import shlex

    commands = []
    for block in re.findall(r"```yaml\n(.*?)```", README, re.S):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            text = line.strip().lstrip("-").strip()
            if text == ">":  # a folded scalar: the command is on the following, more indented lines
                continue
            if not text.startswith("pytest "):
                continue
            indent = len(line) - len(line.lstrip())
            parts = [text]
            for follow in lines[index + 1 :]:
                if len(follow) - len(follow.lstrip()) < indent or not follow.strip().startswith("--"):
                    break
                parts.append(follow.strip())
            commands.append(shlex.split(" ".join(parts))[1:])
    return commands


def test_the_readmes_ci_recipes_gate_a_sample_project(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")  # the recipes run with -n 2
    commands = _recipe_commands()
    assert len(commands) >= 2, "the README lost its CI recipes"
    pytester.makepyfile(test_sample=SAMPLE)
    for arguments in commands:
        result = pytester.runpytest("-p", "no:randomly", *arguments)
        assert result.ret == pytest.ExitCode.TESTS_FAILED, arguments
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["LEAKED test_sample.py::test_forgets_a_texture*"])
        for argument in arguments:
            if argument.startswith(
                ("--glleak-json=", "--glleak-html=", "--glleak-codequality=", "--junitxml=")
            ):
                written = pytester.path / argument.split("=", 1)[1]
                assert written.is_file() and written.stat().st_size > 0, argument
