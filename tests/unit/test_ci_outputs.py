"""The CI output modules as pure logic, on the ``--glleak-json`` document of one real run.

The run (a subprocess with real EGL) leaks textures at ``viewer/render.py:5`` from two tests and grows
memory in a third; tests that need another document change a copy of that one.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_glleak.report.compare import compare, headline, infer_root, markdown, report_problem, text_lines
from pytest_glleak.report.github import (
    escape_data,
    escape_property,
    github_annotations_enabled,
    step_summary,
    workflow_command,
    workflow_commands,
)
from pytest_glleak.report.gitlab import codequality_issues, fingerprint
from pytest_glleak.report.locations import repository_path
from pytest_glleak.settings import parse_auto_switch

RENDER = """\
import OpenGL.GL as gl


def upload():
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    return texture
"""

VIEW_TESTS = """\
import pytest

from viewer.render import upload

KEPT = []


@pytest.mark.no_gl_leak
def test_upload_twice(gl_context):
    upload()
    upload()


@pytest.mark.no_gl_leak
def test_upload_once(gl_context):
    upload()


@pytest.mark.max_memory_growth("256 KiB")
def test_grows():
    KEPT.append(b"x" * (1 << 20))
"""

ONCE = "tests/test_view.py::test_upload_once"
TWICE = "tests/test_view.py::test_upload_twice"
GROWS = "tests/test_view.py::test_grows"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """The JSON report of a real run, and the project's root."""
    root = tmp_path_factory.mktemp("project")
    (root / "viewer").mkdir()
    (root / "tests").mkdir()
    (root / "conftest.py").write_text("")
    (root / "viewer" / "__init__.py").write_text("")
    (root / "viewer" / "render.py").write_text(RENDER)
    (root / "tests" / "test_view.py").write_text(VIEW_TESTS)
    dropped = (
        "PYTEST_GLLEAK_",
        "GITHUB_",
        "CI_",
        "PYOPENGL_PLATFORM",
        "DISPLAY",
        "WAYLAND_DISPLAY",
        "PYTEST_ADDOPTS",
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith(dropped)}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "--glleak-json=report.json",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 1, finished.stdout + finished.stderr
    return json.loads((root / "report.json").read_text()), root


def _test(doc: dict[str, Any], nodeid: str) -> dict[str, Any]:
    return next(test for test in doc["tests"] if test["nodeid"] == nodeid)


# --- GitHub ---------------------------------------------------------------------------------------------------
def test_escaping_follows_githubs_rules() -> None:
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext%3A a%2C b"
    # Escaping runs once: an already escaped sequence is escaped again, not left as it is.
    assert escape_data("%0A") == "%250A"


def test_workflow_command_leaves_out_missing_properties() -> None:
    assert workflow_command("error", "message") == "::error::message"
    assert workflow_command("error", "m", title="t: x") == "::error title=t%3A x::m"
    assert workflow_command("error", "m", file="a,b.py") == "::error file=a%2Cb.py::m"
    assert (
        workflow_command("error", "m", file="a.py", line=3, title="t")
        == "::error file=a.py,line=3,title=t::m"
    )


def test_repository_path_is_relative_with_slashes_or_none_outside() -> None:
    assert repository_path("/repo/app/viewer/render.py", "/repo") == "app/viewer/render.py"
    assert repository_path("/elsewhere/render.py", "/repo") is None
    assert repository_path("/repo", "/repo") is None
    assert repository_path("viewer/render.py", "/repo", rootdir="/repo/app") == "app/viewer/render.py"
    assert repository_path("<string>", "/repo") is None


def test_workflow_commands_of_a_real_run(run: tuple[dict[str, Any], Path]) -> None:
    doc, root = run
    commands = workflow_commands(doc, str(root), str(root), {GROWS: 21})
    assert commands[0] == (
        "::error file=viewer/render.py,line=5,title=glleak%3A 3 textures leaked::3 textures leaked, created at "
        f"viewer/render.py:5 in upload(), by 2 tests:%0A- {ONCE}%0A- {TWICE}"
    )
    assert re.fullmatch(
        rf"::error file=tests/test_view.py,line=21,title=glleak%3A memory growth::{GROWS}: memory grew "
        r"[\d,]+ bytes per repetition \(limit 262,144\)",
        commands[1],
    )
    assert len(commands) == 2
    # Without the test's line: the file only.
    assert workflow_commands(doc, str(root), str(root))[1].startswith(
        "::error file=tests/test_view.py,title=glleak%3A memory growth::"
    )


def test_a_site_outside_the_repository_is_annotated_at_the_first_frame_inside(
    run: tuple[dict[str, Any], Path],
) -> None:
    doc, root = run
    # Only tests/ is "the repository": viewer/render.py lies outside, the calling lines of the tests inside.
    commands = workflow_commands(doc, str(root / "tests"), str(root))
    assert [command.split("::")[1] for command in commands[:3]] == [
        "error file=test_view.py,line=10,title=glleak%3A 1 texture leaked",
        "error file=test_view.py,line=11,title=glleak%3A 1 texture leaked",
        "error file=test_view.py,line=16,title=glleak%3A 1 texture leaked",
    ]
    # The message names the site as every report does: relative to the rootdir (JSON version 2).
    assert "created at viewer/render.py:5 in upload()" in commands[0]
    # A repository that holds none of the frames: commands without a file.
    elsewhere = workflow_commands(doc, str(root / "nowhere"), str(root))
    assert elsewhere[0].startswith("::error title=glleak%3A 3 textures leaked::")


def test_step_summary_without_failures_says_so(run: tuple[dict[str, Any], Path]) -> None:
    doc, root = run
    clean = copy.deepcopy(doc)
    clean["tests"] = [test for test in clean["tests"] if test["verdict"] not in ("leaked", "grew")]
    assert (
        step_summary(clean, str(root))
        == "## pytest-glleak\n\nNo leaks or memory growth in 3 checked tests.\n"
    )


@pytest.mark.parametrize(
    ("setting", "environ", "enabled"),
    [
        ("auto", {"GITHUB_ACTIONS": "true"}, True),
        ("auto", {"GITHUB_ACTIONS": "false"}, False),
        ("auto", {}, False),
        ("on", {}, True),
        ("off", {"GITHUB_ACTIONS": "true"}, False),
    ],
)
def test_annotations_are_on_as_set_or_on_github(setting: str, environ: dict[str, str], enabled: bool) -> None:
    assert github_annotations_enabled(setting, environ) is enabled


def test_the_annotation_setting_parses_auto_and_booleans() -> None:
    assert [parse_auto_switch(value) for value in ("auto", " AUTO ", "yes", "0", True, False)] == [
        "auto",
        "auto",
        "on",
        "off",
        "on",
        "off",
    ]
    with pytest.raises(ValueError, match="expected auto, or one of"):
        parse_auto_switch("sometimes")


# --- GitLab ---------------------------------------------------------------------------------------------------
def test_codequality_fingerprints_ignore_lines_but_not_kind_file_function_or_test(
    run: tuple[dict[str, Any], Path],
) -> None:
    doc, root = run
    issues = codequality_issues(doc, str(root), str(root))
    assert [issue["location"]["path"] for issue in issues] == [
        "viewer/render.py",
        "viewer/render.py",
        "tests/test_view.py",
    ]
    assert [issue["check_name"] for issue in issues] == ["glleak-leak", "glleak-leak", "glleak-memory-growth"]
    for issue in issues:
        assert {"description", "check_name", "fingerprint", "severity", "location"} <= set(issue)
        assert isinstance(issue["location"]["lines"]["begin"], int)
    moved = copy.deepcopy(doc)
    for test in moved["tests"]:
        for item in (test["gl"] or {}).get("leaked", []):
            for frame in item["create_site"]:
                frame["line"] += 3
    moved_issues = codequality_issues(moved, str(root), str(root))
    assert [issue["fingerprint"] for issue in moved_issues] == [issue["fingerprint"] for issue in issues]
    assert moved_issues[0]["location"]["lines"]["begin"] == issues[0]["location"]["lines"]["begin"] + 3
    renamed = copy.deepcopy(doc)
    _test(renamed, ONCE)["nodeid"] = ONCE + "_renamed"
    for item in _test(renamed, TWICE)["gl"]["leaked"]:
        item["kind"] = "buffer"
    changed = {issue["fingerprint"] for issue in codequality_issues(renamed, str(root), str(root))}
    assert issues[0]["fingerprint"] not in changed
    assert issues[1]["fingerprint"] not in changed
    assert fingerprint("ab", "c") != fingerprint("a", "bc")


# --- compare --------------------------------------------------------------------------------------------------
def test_a_run_compared_with_itself_has_no_changes(run: tuple[dict[str, Any], Path]) -> None:
    doc, _root = run
    assert infer_root(doc) is None  # version 2 reports carry rootdir-relative paths already
    comparison = compare(doc, doc)
    assert comparison.changes == ()
    assert not comparison.regressed
    assert headline(comparison) == "0 regressions, 0 fixed, 0 changed in 3 checked tests"


def test_compare_finds_a_higher_count_a_fix_and_a_new_test(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    new = copy.deepcopy(doc)
    once = _test(new, ONCE)
    once["gl"]["leaked"].append(copy.deepcopy(once["gl"]["leaked"][0]))
    _test(new, TWICE)["gl"]["leaked"] = []
    old = copy.deepcopy(doc)
    old["tests"] = [test for test in old["tests"] if test["nodeid"] != GROWS]
    comparison = compare(old, new)
    assert comparison.regressed
    assert [(change.nodeid, change.category) for change in comparison.changes] == [
        (GROWS, "regression"),
        (ONCE, "regression"),
        (TWICE, "fixed"),
    ]
    assert comparison.changes[0].text.startswith("new growth: ")
    assert (
        comparison.changes[1].text
        == "higher count: texture created at viewer/render.py:5 in upload(): 1 -> 2"
    )
    assert (
        comparison.changes[2].text
        == "fixed: 2 textures created at viewer/render.py:5 in upload() no longer leak"
    )
    assert text_lines(comparison, "old.json", "new.json")[-1] == (
        "glleak compare: 2 regressions, 1 fixed, 0 changed in 3 checked tests"
    )
    assert markdown(comparison).startswith(
        "### pytest-glleak: regressed\n\n2 regressions, 1 fixed, 0 changed"
    )


def test_growth_is_compared_within_the_tolerance(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    old_growth = int(_test(doc, GROWS)["memory"]["per_iteration"])

    def grown(factor: float) -> dict[str, Any]:
        new = copy.deepcopy(doc)
        _test(new, GROWS)["memory"]["per_iteration"] = int(old_growth * factor)
        return new

    assert compare(doc, grown(1.05)).changes == ()
    more = compare(doc, grown(1.2))
    assert [change.category for change in more.changes] == ["regression"]
    assert more.changes[0].text.startswith(f"more growth: {old_growth:,} -> ")
    assert compare(doc, grown(1.2), tolerance=0.25).changes == ()
    less = compare(doc, grown(0.5))
    assert [change.category for change in less.changes] == ["changed"]
    stopped = copy.deepcopy(doc)
    _test(stopped, GROWS)["memory"]["per_iteration"] = 0
    (fixed,) = compare(doc, stopped).changes
    assert (fixed.category, fixed.text) == (
        "fixed",
        f"fixed: memory no longer grows (was {old_growth:,} bytes per repetition)",
    )


def test_tests_that_did_not_run_are_not_called_fixed(run: tuple[dict[str, Any], Path]) -> None:
    doc, _ = run
    new = copy.deepcopy(doc)
    new["tests"] = [test for test in new["tests"] if test["nodeid"] != TWICE]
    comparison = compare(doc, new)
    assert comparison.changes == ()
    assert comparison.not_in_new == (TWICE,)
    assert text_lines(comparison, "a", "b")[-3:] == [
        "Not in the new run, not compared (1):",
        f"  {TWICE}",
        "glleak compare: 0 regressions, 0 fixed, 0 changed in 2 checked tests",
    ]


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "the top level is not an object"),
        ({"tool": "pytest-benchmark"}, "'tool' is 'pytest-benchmark', expected 'pytest-glleak'"),
        ({"tool": "pytest-glleak"}, "'tests' is missing or not a list"),
        ({"tool": "pytest-glleak", "tests": [{}]}, "tests[0] has no node id"),
        ({"tool": "pytest-glleak", "tests": [{"nodeid": "t", "gl": {}}]}, "tests[0].gl has no 'leaked' list"),
    ],
)
def test_documents_that_are_not_reports_are_named(document: Any, problem: str) -> None:
    assert report_problem(document) == problem


def test_the_real_report_is_a_report(run: tuple[dict[str, Any], Path]) -> None:
    assert report_problem(run[0]) is None
