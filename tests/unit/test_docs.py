"""The README and ``pytest --help`` / ``--markers`` tell the same story as the code."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_glleak.docs import options_table
from pytest_glleak.marks import marker_lines

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_options_table_is_the_generated_one() -> None:
    match = re.search(r"<!-- options-table:start.*?-->\n(.*?)\n<!-- options-table:end -->", README, re.S)
    assert match is not None
    assert match.group(1).strip() == options_table().strip(), "run `python -m pytest_glleak.docs` and paste"


def test_readme_opens_with_the_two_commands_ci_runs() -> None:
    commands = re.findall(r"^(bash \.ci/setup && .+)$", README, re.M)[:2]
    assert commands[0].endswith("pytest example_project --glleak-report")
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines(), "the README's test command must be what .ci/run runs"


def test_readme_documents_every_marker() -> None:
    for line in marker_lines():
        signature = line.split(":", 1)[0]
        assert signature in README, signature
