"""Portable reports and one count, end to end.

A project with its code in ``app/`` and its tests in ``tests/`` (tests/examples/portable) is run from a
subdirectory and from outside it (``--rootdir``): every creation-site path in the failure text, the JSON
report, the HTML page and the baseline is relative to the rootdir, in one format (``file:line in
function()``); the JSON validates against the schema; a leaked test and a grown test are each one error in
the terminal, in JUnit and in the glleak report.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

import pytest_glleak

pytest_plugins = ["pytester"]

SCHEMA = json.loads((Path(__file__).parents[1] / "glleak_report.schema.json").read_text())
RENDER = Path(__file__).parents[1] / "examples" / "portable" / "app" / "render.py"
RUN_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")


def site_line(marker: str) -> int:
    lines = RENDER.read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.endswith(f"# SITE-{marker}"))


def all_files(doc: Any) -> list[str]:
    """Every value of a ``file`` key anywhere in a JSON document."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "file" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(all_files(value))
    elif isinstance(doc, list):
        for value in doc:
            found.extend(all_files(value))
    return found


def check_outputs(pytester: pytest.Pytester, result: pytest.RunResult, out: Path) -> None:
    texture = f"app/render.py:{site_line('TEXTURE')} in upload()"
    image = f"app/render.py:{site_line('IMAGE')} in load()"
    root = str(pytester.path)

    # One count: 1 passed, 3 errors (a leak, an image leak, a growth), in the terminal ...
    result.assert_outcomes(passed=1, errors=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "LEAKED *test_app.py::test_leaks_a_texture - leaked 1 texture",
            "LEAKED *test_app.py::test_keeps_an_image - leaked 1 Pillow image",
            "GREW *test_app.py::test_grows - memory grew 1.* MiB*",
        ],
        consecutive=False,
    )
    # ... the failure text, with rootdir-relative sites in one format ...
    result.stdout.fnmatch_lines([f"  1 texture created at {texture}:", f"       {image}"], consecutive=False)
    assert root + "/app" not in result.stdout.str()

    # ... JUnit ...
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("errors"), suite.get("failures")) == ("4", "3", "0")
    errors = sorted(case.get("name", "") for case in suite.iter("testcase") if case.find("error") is not None)
    assert errors == ["test_grows", "test_keeps_an_image", "test_leaks_a_texture"]

    # ... and the glleak report; the JSON document validates and says when, what and how.
    doc = json.loads((out / "report.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    summary = doc["summary"]
    assert (summary["tests_leaked"], summary["tests_grew"], summary["tests_clean"]) == (2, 1, 1)
    assert doc["version"] == 2 and doc["plugin_version"] == pytest_glleak.__version__
    assert doc["pytest_version"] == pytest.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["created"])
    assert doc["duration_s"] > 0
    assert f"--glleak-json={out / 'report.json'}" in doc["args"]
    files = all_files(doc)
    assert set(files) == {"app/render.py", "tests/test_app.py"}, files
    top = {(site["kind"], f"{site['file']}:{site['line']} in {site['function']}()") for site in doc["sites"]}
    assert top == {("texture", texture), ("pil_image", image)}
    # The per-process memory line of the HTML chart is fed: each checked test has its process's RSS.
    checked = {entry["nodeid"] for entry in doc["tests"] if entry["checks"]}
    rss = {point["nodeid"]: point.get("process_rss") for point in doc["sequence"]}
    assert all(isinstance(rss[nodeid], int) and rss[nodeid] > 0 for nodeid in checked)

    html = (out / "report.html").read_text()
    assert texture in html and image in html
    assert root + "/app" not in html and root + "/tests" not in html


@pytest.mark.parametrize(
    "workers", [0, pytest.param(2, marks=pytest.mark.xdist)], ids=["in-process", "xdist-2"]
)
def test_paths_are_relative_to_the_rootdir_from_a_subdirectory(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    pytester.copy_example("portable")
    out = pytester.mkdir("out")
    monkeypatch.chdir(pytester.path / "tests")  # cwd below the rootdir, as in `cd tests && pytest`
    xdist = ("-n", str(workers)) if workers else ()
    result = pytester.runpytest(
        *RUN_ARGS,
        *xdist,
        f"--glleak-json={out / 'report.json'}",
        f"--glleak-html={out / 'report.html'}",
        f"--junitxml={out / 'junit.xml'}",
        "--glleak-report",
    )
    result.stdout.fnmatch_lines([f"rootdir: {pytester.path}"])
    check_outputs(pytester, result, out)


def test_paths_are_relative_to_an_explicit_rootdir_from_outside(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = pytester.mkdir("project")
    pytester.copy_example("portable")
    for name in ("pytest.ini", "app", "tests"):
        (pytester.path / name).rename(project / name)
    out = pytester.mkdir("out")
    elsewhere = pytester.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)
    result = pytester.runpytest(
        *RUN_ARGS,
        f"--rootdir={project}",
        str(project / "tests"),
        f"--glleak-json={out / 'report.json'}",
        f"--glleak-html={out / 'report.html'}",
        f"--junitxml={out / 'junit.xml'}",
    )
    result.stdout.fnmatch_lines([f"rootdir: {project}"])
    check_outputs(pytester, result, out)

    # The baseline records the same relative sites, so a baseline made here matches one made anywhere.
    baseline = out / "baseline.json"
    pytester.runpytest(
        *RUN_ARGS,
        f"--rootdir={project}",
        str(project / "tests"),
        f"--glleak-baseline={baseline}",
        "--glleak-baseline-update",
    )
    text = baseline.read_text()
    assert f"app/render.py:{site_line('TEXTURE')}" in text and str(project) not in text
    again = pytester.runpytest(
        *RUN_ARGS, f"--rootdir={project}", str(project / "tests"), f"--glleak-baseline={baseline}"
    )
    again.assert_outcomes(passed=4)  # every leak and the growth are within the baseline


def test_pytest_html_counts_a_leaked_test_as_one_error(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_html", reason="pytest-html is not installed (pip install pytest-html)")
    pytester.copy_example("portable")
    result = pytester.runpytest(*RUN_ARGS, "--html=page.html", "--self-contained-html")
    result.assert_outcomes(passed=1, errors=3)
    page = (pytester.path / "page.html").read_text()
    counts = dict(
        (word, int(number)) for number, word in re.findall(r'<span class="\w+">(\d+) (\w+),?</span>', page)
    )
    assert (counts["Passed"], counts["Errors"], counts["Failed"]) == (1, 3, 0), counts
