"""CI outputs end to end: GitHub workflow commands and step summary, GitLab Code Quality, and
``python -m pytest_glleak compare`` on the JSON reports of real runs (real EGL, in subprocesses)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

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


@pytest.mark.no_gl_leak
def test_upload_twice(gl_context):
    upload()
    upload()


@pytest.mark.no_gl_leak
def test_upload_once(gl_context):
    upload()


def test_clean():
    pass
"""

GROWTH_TESTS = """\
import pytest

KEPT = []


@pytest.mark.max_memory_growth("256 KiB")
def test_grows():
    KEPT.append(b"x" * (1 << 20))
"""

ODD_RENDER = """\
import OpenGL.GL as gl


def make_both():
    return gl.glGenBuffers(1), gl.glGenTextures(1)
"""

ODD_TESTS = """\
import sys
from pathlib import Path

import OpenGL.GL as gl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lib,odd:dir%"))

from oddrender import make_both  # noqa: E402


@pytest.mark.no_gl_leak
@pytest.mark.parametrize("name", ["50%,a:b"])
def test_odd(gl_context, name):
    buffer, texture = make_both()
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
"""

UPLOAD_LEAKS = (
    "::error file=viewer/render.py,line=5,title=glleak%3A 3 textures leaked::3 textures leaked, created at "
    "viewer/render.py:5 in upload(), by 2 tests:%0A- tests/test_view.py::test_upload_once"
    "%0A- tests/test_view.py::test_upload_twice"
)


@pytest.fixture(autouse=True)
def _no_ci_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # This suite may itself run on a CI runner: the runs below must see only what each test sets.
    for name in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "GITHUB_STEP_SUMMARY", "CI_PROJECT_DIR"):
        monkeypatch.delenv(name, raising=False)


def _view_project(root: Path) -> None:
    (root / "viewer").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "conftest.py").write_text("")
    (root / "viewer" / "__init__.py").write_text("")
    (root / "viewer" / "render.py").write_text(RENDER)
    (root / "tests" / "test_view.py").write_text(VIEW_TESTS)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def _commands(result: pytest.RunResult) -> list[str]:
    return [line for line in result.stdout.lines if line.startswith("::")]


# --- GitHub Actions -------------------------------------------------------------------------------------------
def test_on_github_each_leak_site_is_one_error_command_with_a_relative_path(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _view_project(pytester.path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = _run(pytester)
    result.assert_outcomes(passed=1, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _commands(result) == [UPLOAD_LEAKS]


@pytest.mark.xdist
def test_under_xdist_the_controller_prints_each_command_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _view_project(pytester.path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = _run(pytester, "-n", "2", "--glleak-codequality=cq.json")
    result.assert_outcomes(passed=1, errors=2)
    assert _commands(result) == [UPLOAD_LEAKS]
    issues = json.loads((pytester.path / "cq.json").read_text())
    assert [issue["location"] for issue in issues] == [
        {"path": "viewer/render.py", "lines": {"begin": 5}}
    ] * 2


def test_growth_is_annotated_at_the_test_function(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_growth=GROWTH_TESTS)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = _run(pytester)
    result.assert_outcomes(errors=1)
    (command,) = _commands(result)
    # The line pytest gives for the test function (Python counts a decorated function from its decorator).
    assert command.startswith(
        "::error file=test_growth.py,line=6,title=glleak%3A memory growth::test_growth.py::test_grows: "
        "memory grew "
    )
    assert command.endswith(" bytes per repetition (limit 262,144)")


def test_workflow_commands_escape_percent_comma_colon_and_newline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    (pytester.path / "lib,odd:dir%").mkdir()
    (pytester.path / "lib,odd:dir%" / "oddrender.py").write_text(ODD_RENDER)
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_odd.py").write_text(ODD_TESTS)
    result = _run(pytester, "--glleak-github-annotations")
    result.assert_outcomes(errors=1)
    assert _commands(result) == [
        "::error file=lib%2Codd%3Adir%25/oddrender.py,line=5,title=glleak%3A 1 buffer%2C 1 texture leaked"
        "::1 buffer, 1 texture leaked, created at lib,odd:dir%25/oddrender.py:5 in make_both(), by 1 test:"
        "%0A- tests/test_odd.py::test_odd[50%25,a:b]"
    ]


def test_step_summary_is_appended_to_the_file_github_names(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _view_project(pytester.path)
    summary = pytester.path / "step_summary.md"
    summary.write_text("## earlier step\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert summary.read_text() == (
        "## earlier step\n"
        "## pytest-glleak\n"
        "\n"
        "**2 leaked, 0 grew** of 2 checked tests (0 within the baseline): 3 GL objects, 0 image buffers.\n"
        "\n"
        "### Worst offenders\n"
        "\n"
        "| test | leaked | memory per repetition |\n"
        "|---|---|---|\n"
        "| `tests/test_view.py::test_upload_twice` | 2 textures | — |\n"
        "| `tests/test_view.py::test_upload_once` | 1 texture | — |\n"
        "\n"
        "### Top creation sites\n"
        "\n"
        "| site | leaked | tests |\n"
        "|---|---|---|\n"
        "| `viewer/render.py:5 in upload()` | 3 textures | 2 |\n"
    )


@pytest.mark.parametrize(
    ("environment", "args", "expected"),
    [
        ({}, (), False),
        ({"GITHUB_ACTIONS": "true"}, ("--glleak-no-github-annotations",), False),
        ({"GITHUB_ACTIONS": "true", "PYTEST_GLLEAK_GITHUB_ANNOTATIONS": "off"}, (), False),
        ({"PYTEST_GLLEAK_GITHUB_ANNOTATIONS": "on"}, (), True),
        ({}, ("-o", "glleak_github_annotations=true"), True),
    ],
    ids=["off-outside-github", "off-switch", "env-off", "env-on", "ini-on"],
)
def test_annotations_follow_the_setting_and_github_actions(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    args: tuple[str, ...],
    expected: bool,
) -> None:
    _view_project(pytester.path)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert _commands(result) == ([UPLOAD_LEAKS] if expected else [])


def test_paths_are_relative_to_the_workspace_when_pytest_runs_from_elsewhere(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = pytester.path / "checkout" / "app"
    _view_project(project)
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    # Without GITHUB_WORKSPACE: relative to the rootdir.
    result = _run(pytester, f"--rootdir={project}", str(project / "tests"))
    assert _commands(result) == [UPLOAD_LEAKS]
    # With it (the repository root above the project): relative to the workspace.
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path / "checkout"))
    result = _run(pytester, f"--rootdir={project}", str(project / "tests"))
    assert _commands(result) == [
        UPLOAD_LEAKS.replace("file=viewer/", "file=app/viewer/").replace("at viewer/", "at app/viewer/")
    ]


# --- GitLab Code Quality --------------------------------------------------------------------------------------
REQUIRED_KEYS = {"description", "check_name", "fingerprint", "severity", "location"}


def _codequality(pytester: pytest.Pytester, name: str) -> list[dict[str, object]]:
    result = _run(pytester, f"--glleak-codequality={name}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"glleak: Code Quality report written to {name}"])
    issues = json.loads((pytester.path / name).read_text())
    assert isinstance(issues, list)
    return issues


def test_codequality_report_has_gitlabs_keys_and_stable_fingerprints(pytester: pytest.Pytester) -> None:
    _view_project(pytester.path)
    first = _codequality(pytester, "first.json")
    assert [
        (issue["description"], issue["location"], issue["severity"], issue["check_name"]) for issue in first
    ] == [
        (
            "tests/test_view.py::test_upload_once leaked 1 texture, created at viewer/render.py:5 in upload()",
            {"path": "viewer/render.py", "lines": {"begin": 5}},
            "major",
            "glleak-leak",
        ),
        (
            "tests/test_view.py::test_upload_twice leaked 2 textures, created at viewer/render.py:5 in upload()",
            {"path": "viewer/render.py", "lines": {"begin": 5}},
            "major",
            "glleak-leak",
        ),
    ]
    for issue in first:
        assert REQUIRED_KEYS <= set(issue)
        assert isinstance(issue["fingerprint"], str) and len(issue["fingerprint"]) == 64
    assert len({issue["fingerprint"] for issue in first}) == 2
    # A second run, after an edit that moves the leaking line: same fingerprints, the new line.
    render = pytester.path / "viewer" / "render.py"
    render.write_text("# a comment that moves every line down\n" + render.read_text())
    second = _codequality(pytester, "second.json")
    assert [issue["fingerprint"] for issue in second] == [issue["fingerprint"] for issue in first]
    assert [issue["location"] for issue in second] == [
        {"path": "viewer/render.py", "lines": {"begin": 6}}
    ] * 2


def test_codequality_growth_issue_points_at_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_growth=GROWTH_TESTS)
    (issue,) = _codequality(pytester, "cq.json")
    assert issue["check_name"] == "glleak-memory-growth"
    assert issue["location"] == {"path": "test_growth.py", "lines": {"begin": 6}}
    assert str(issue["description"]).startswith("test_growth.py::test_grows: memory grew ")


def test_an_unwritable_codequality_path_is_a_usage_error_before_tests_run(pytester: pytest.Pytester) -> None:
    _view_project(pytester.path)
    (pytester.path / "afile").write_text("")
    result = _run(pytester, "--glleak-codequality=afile/cq.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--glleak-codequality=afile/cq.json: cannot write there:" in result.stderr.str()


# --- compare --------------------------------------------------------------------------------------------------
def _report(pytester: pytest.Pytester, name: str, project: Path | None = None) -> Path:
    path = pytester.path / name
    args = [f"--glleak-json={path}"]
    if project is not None:
        args += [f"--rootdir={project}", str(project)]
    result = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    return path


def _compare(pytester: pytest.Pytester, *args: str | Path) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "pytest_glleak", "compare", *args)


def test_compare_reports_a_higher_count_and_a_new_test_as_regressions(pytester: pytest.Pytester) -> None:
    _view_project(pytester.path)
    old = _report(pytester, "old.json")
    tests = pytester.path / "tests" / "test_view.py"
    source = tests.read_text().replace(
        "def test_upload_once(gl_context):\n    upload()\n",
        "def test_upload_once(gl_context):\n    upload()\n    upload()\n",
    )
    tests.write_text(source + "\n\n@pytest.mark.no_gl_leak\ndef test_upload_new(gl_context):\n    upload()\n")
    new = _report(pytester, "new.json")

    result = _compare(pytester, old, new)
    assert result.ret == 1
    assert result.outlines == [
        f"glleak compare: {old} -> {new} (growth tolerance 10%)",
        "Regressions (2):",
        "  tests/test_view.py::test_upload_new: new leak: 1 texture created at viewer/render.py:5 in upload()",
        "  tests/test_view.py::test_upload_once: higher count: texture created at viewer/render.py:5 in upload(): 1 -> 2",
        "glleak compare: 2 regressions, 0 fixed, 0 changed in 3 checked tests",
    ]
    markdown = _compare(pytester, old, new, "--markdown")
    assert markdown.ret == 1
    assert markdown.outlines == [
        "### pytest-glleak: regressed",
        "",
        "2 regressions, 0 fixed, 0 changed in 3 checked tests.",
        "",
        "| | test | change |",
        "|---|---|---|",
        "| Regression | `tests/test_view.py::test_upload_new` | new leak: 1 texture created at viewer/render.py:5 in upload() |",
        "| Regression | `tests/test_view.py::test_upload_once` | higher count: texture created at viewer/render.py:5 in upload(): 1 -> 2 |",
    ]


def test_compare_reports_fixes_and_exits_0(pytester: pytest.Pytester) -> None:
    _view_project(pytester.path)
    old = _report(pytester, "old.json")
    tests = pytester.path / "tests" / "test_view.py"
    tests.write_text(
        tests.read_text().replace(
            "def test_upload_once(gl_context):\n    upload()\n",
            "def test_upload_once(gl_context):\n    pass\n",
        )
    )
    new = _report(pytester, "new.json")
    result = _compare(pytester, old, new, "--markdown=comment.md")
    assert result.ret == 0
    assert result.outlines == [
        f"glleak compare: {old} -> {new} (growth tolerance 10%)",
        "Fixed (1):",
        "  tests/test_view.py::test_upload_once: fixed: 1 texture created at viewer/render.py:5 in upload() no longer leaks",
        "glleak compare: 0 regressions, 1 fixed, 0 changed in 2 checked tests",
    ]
    assert (pytester.path / "comment.md").read_text().startswith("### pytest-glleak: no regressions\n")


def test_compare_matches_runs_of_two_checkouts_and_a_moved_line(pytester: pytest.Pytester) -> None:
    first, second = pytester.path / "a" / "repo", pytester.path / "b" / "checkout"
    _view_project(first)
    shutil.copytree(first, second)
    render = second / "viewer" / "render.py"
    render.write_text("# moved down a line\n" + render.read_text())
    old, new = _report(pytester, "old.json", first), _report(pytester, "new.json", second)
    result = _compare(pytester, old, new)
    assert result.ret == 0
    assert result.outlines[1:] == [
        "Changed (2):",
        "  tests/test_view.py::test_upload_once: moved: 1 texture created at viewer/render.py:6 in upload() (was at viewer/render.py:5 in upload(); the line moved)",
        "  tests/test_view.py::test_upload_twice: moved: 2 textures created at viewer/render.py:6 in upload() (was at viewer/render.py:5 in upload(); the line moved)",
        "glleak compare: 0 regressions, 0 fixed, 2 changed in 2 checked tests",
    ]
    same = _compare(pytester, old, old)
    assert same.ret == 0
    assert same.outlines[1:] == ["glleak compare: 0 regressions, 0 fixed, 0 changed in 2 checked tests"]


def test_compare_bad_input_exits_2_with_one_line(pytester: pytest.Pytester) -> None:
    _view_project(pytester.path)
    good = _report(pytester, "good.json")
    (pytester.path / "text.json").write_text("not json\n")
    (pytester.path / "other.json").write_text('{"tool": "something else", "tests": []}\n')
    cases = {
        "missing.json": "glleak compare: error: missing.json: no such file",
        "text.json": "glleak compare: error: text.json: not JSON (Expecting value at line 1, column 1)",
        "other.json": "glleak compare: error: other.json: not a pytest-glleak JSON report ('tool' is 'something else', expected 'pytest-glleak')",
    }
    for name, message in cases.items():
        result = _compare(pytester, name, good)
        assert result.ret == 2
        assert result.errlines == [message]
        assert result.outlines == []
