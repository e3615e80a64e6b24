"""Reports and CI gating end to end: terminal table, JSON, HTML, JUnit, baseline flows, xdist, crashes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SCHEMA = json.loads((Path(__file__).parents[1] / "glleak_report.schema.json").read_text())


def _line(pytester: pytest.Pytester, name: str, tag: str) -> int:
    text = (pytester.path / name).read_text()
    return next(number for number, line in enumerate(text.splitlines(), 1) if tag in line)


def _project(pytester: pytest.Pytester, extra_tests: str = "") -> None:
    """The shared user project as test_project.py, with `extra_tests` appended to it."""
    project = pytester.copy_example("gating/test_project.py")
    project.write_text(project.read_text() + extra_tests)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def _tests(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}


def test_terminal_report_default_and_verbose(pytester: pytest.Pytester) -> None:
    _project(pytester)
    result = _run(pytester, "--glleak-report")
    result.assert_outcomes(passed=1, errors=3)
    line = _line(pytester, "test_project.py", "SITE-TEXTURE")
    result.stdout.fnmatch_lines(
        [
            "*glleak report*",
            "4 tests checked: 3 leaked*",
            "*test_project.py::test_leaks_two_textures*",
            f"*3 textures leaked, all created at test_project.py:{line} in upload(), by 2 tests*",
        ]
    )
    assert "test_project.py::test_clean" not in result.stdout.str().split("glleak report")[1]
    verbose = _run(pytester, "--glleak-report", "-v")
    assert "test_project.py::test_clean" in verbose.stdout.str().split("glleak report")[1]


def test_json_report_matches_the_schema_and_is_written_atomically(pytester: pytest.Pytester) -> None:
    _project(pytester)
    out = pytester.path / "reports"
    out.mkdir()
    result = _run(pytester, f"--glleak-json={out / 'glleak.json'}")
    result.assert_outcomes(passed=1, errors=3)
    assert sorted(path.name for path in out.iterdir()) == ["glleak.json"]  # no temp files left
    doc = json.loads((out / "glleak.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["summary"]["tests_checked"] == 4
    assert doc["summary"]["tests_leaked"] == 3
    assert doc["summary"]["leaked_gl_objects"] == 3
    assert doc["summary"]["leaked_image_buffers"] == 1
    assert doc["environment"]["renderer"] and doc["environment"]["backend"].startswith("egl")
    tests = _tests(doc)
    assert tests["test_leaks_two_textures"]["outcome"] == "leaked"
    assert tests["test_clean"]["outcome"] == "passed"
    texture = tests["test_leaks_one_texture"]["gl"]["leaked"][0]
    assert texture["kind"] == "texture" and texture["bytes"] == 16 * 16 * 4
    frame = texture["create_site"][0]
    assert frame["file"].endswith("test_project.py") and frame["function"] == "upload"
    assert frame["line"] == _line(pytester, "test_project.py", "SITE-TEXTURE")
    image = tests["test_keeps_an_image"]["images"]["leaked"][0]
    assert image["kind"] == "pil_image" and image["bytes"] == 128 * 128 * 4
    assert image["create_site"][0]["line"] == _line(pytester, "test_project.py", "SITE-IMAGE")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_is_self_contained_with_chart_and_every_leaked_test(pytester: pytest.Pytester) -> None:
    _project(pytester)
    html_path = pytester.path / "glleak.html"
    _run(pytester, f"--glleak-html={html_path}")
    page = html_path.read_text()
    parser = _Collector()
    parser.feed(page)
    assert "svg" in parser.tags
    text = "".join(parser.text)
    for name in ("test_leaks_one_texture", "test_leaks_two_textures", "test_keeps_an_image"):
        assert name in text
    for external in ("http://", "https://", "src=", "<script", "<link"):
        assert external not in page


def test_junit_properties(pytester: pytest.Pytester) -> None:
    _project(pytester)
    junit = pytester.path / "junit.xml"
    _run(pytester, f"--junitxml={junit}")
    root = ET.parse(junit).getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    properties = {
        name: {prop.get("name"): prop.get("value") for prop in case.iter("property")}
        for name, case in cases.items()
    }
    assert properties["test_leaks_two_textures"]["glleak_gl_leaked"] == "2"
    assert properties["test_clean"]["glleak_gl_leaked"] == "0"
    assert properties["test_keeps_an_image"]["glleak_images_leaked"] == "1"


def test_baseline_flows(pytester: pytest.Pytester) -> None:
    _project(pytester)
    baseline = pytester.path / "glleak-baseline.json"

    first = _run(pytester, f"--glleak-baseline={baseline}")
    first.stdout.fnmatch_lines(["*no known-leak baseline at*--glleak-baseline-update*"])
    first.assert_outcomes(passed=1, errors=3)

    record = _run(pytester, f"--glleak-baseline={baseline}", "--glleak-baseline-update")
    record.assert_outcomes(passed=4)
    record.stdout.fnmatch_lines(["*glleak: baseline * updated*", "*added*test_leaks_two_textures*"])
    recorded = json.loads(baseline.read_text())
    assert "test_project.py::test_leaks_two_textures" in json.dumps(recorded)

    known = _run(pytester, f"--glleak-baseline={baseline}", "--glleak-report")
    known.assert_outcomes(passed=4)
    assert known.ret == 0

    # A higher count fails as a regression.
    source = (pytester.path / "test_project.py").read_text()
    pytester.makepyfile(
        test_project=source.replace(
            "    upload()\n    upload()\n", "    upload()\n    upload()\n    upload()\n"
        )
    )
    higher = _run(pytester, f"--glleak-baseline={baseline}")
    higher.assert_outcomes(passed=3, errors=1)
    higher.stdout.fnmatch_lines(["LEAKED test_project.py::test_leaks_two_textures*"])

    # A leak from a new site fails too.
    pytester.makepyfile(
        test_project=source
        + """

def other_upload():
    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)


@pytest.mark.no_gl_leak
def test_new_site(gl_context):
    other_upload()
"""
    )
    new_site = _run(pytester, f"--glleak-baseline={baseline}")
    new_site.assert_outcomes(passed=4, errors=1)
    new_site.stdout.fnmatch_lines(["LEAKED test_project.py::test_new_site*"])

    # Updating from a -k subset keeps the entries of tests that did not run.
    pytester.makepyfile(test_project=source.replace("    upload()\n    upload()\n", "    pass\n"))
    subset = _run(pytester, f"--glleak-baseline={baseline}", "--glleak-baseline-update", "-k", "two_textures")
    subset.assert_outcomes(passed=1, deselected=3)
    kept = json.dumps(json.loads(baseline.read_text()))
    assert "test_leaks_one_texture" in kept and "test_keeps_an_image" in kept
    assert "test_leaks_two_textures" not in kept


def test_corrupt_baseline_is_a_usage_error_and_left_untouched(pytester: pytest.Pytester) -> None:
    _project(pytester)
    baseline = pytester.path / "glleak-baseline.json"
    baseline.write_bytes(b'{"version": 1, "tests": [not json')
    before = (baseline.read_bytes(), baseline.stat().st_mtime_ns)
    for args in ((), ("--glleak-baseline-update",)):
        result = _run(pytester, f"--glleak-baseline={baseline}", *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*{baseline.name}*"])
        assert (baseline.read_bytes(), baseline.stat().st_mtime_ns) == before


def test_baseline_from_another_renderer_warns_in_the_header(pytester: pytest.Pytester) -> None:
    _project(pytester)
    baseline = pytester.path / "glleak-baseline.json"
    _run(pytester, f"--glleak-baseline={baseline}", "--glleak-baseline-update")
    doc = json.loads(baseline.read_text())
    doc["environment"]["renderer"] = "NVIDIA H100 PCIe/PCIe/SSE2"
    baseline.write_text(json.dumps(doc))
    result = _run(pytester, f"--glleak-baseline={baseline}")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*WARNING*NVIDIA H100*llvmpipe*"])


XDIST_TESTS = """

@pytest.mark.no_gl_leak
@pytest.mark.parametrize("count", range(6))
def test_param_leaks(gl_context, count):
    for _ in range(count % 3):
        upload()
"""


@pytest.mark.xdist
def test_xdist_json_tests_list_matches_a_plain_run(pytester: pytest.Pytester) -> None:
    _project(pytester, XDIST_TESTS)
    plain_path, dist_path = pytester.path / "plain.json", pytester.path / "dist.json"
    plain = _run(pytester, f"--glleak-json={plain_path}", "--glleak-report")
    dist = _run(pytester, "-n", "2", f"--glleak-json={dist_path}", "--glleak-report")
    assert plain.ret == dist.ret == pytest.ExitCode.TESTS_FAILED
    plain_tests = json.loads(plain_path.read_text())["tests"]
    dist_tests = json.loads(dist_path.read_text())["tests"]
    assert json.dumps(plain_tests, sort_keys=True) == json.dumps(dist_tests, sort_keys=True)
    assert json.loads(dist_path.read_text())["summary"]["tests_leaked"] == 7


@pytest.mark.xdist
def test_crashed_worker_leaves_a_complete_report(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        """

def test_crashes():
    import os
    os._exit(1)
"""
    )
    report = pytester.path / "glleak.json"
    result = _run(pytester, "-n", "2", "--max-worker-restart=1", f"--glleak-json={report}", "--glleak-report")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = json.loads(report.read_text())
    assert doc["summary"]["crashed"] == ["test_project.py::test_crashes"]
    assert {"test_leaks_one_texture", "test_leaks_two_textures", "test_keeps_an_image", "test_clean"} <= set(
        _tests(doc)
    )
    # Lines every supported pytest prints (pytest 8.0 puts no reason on its own FAILED summary line here).
    result.stdout.fnmatch_lines(
        [
            "worker 'gw*' crashed while running 'test_project.py::test_crashes'",
            "CRASHED  test_project.py::test_crashes",
            "*worker crashed on gw* while running this test*",
        ]
    )


def test_interrupted_run_writes_a_partial_report(pytester: pytest.Pytester) -> None:
    _project(
        pytester,
        """

def test_zz_interrupt():
    raise KeyboardInterrupt
"""
    )
    report = pytester.path / "glleak.json"
    result = _run(pytester, f"--glleak-json={report}", "--glleak-report")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    doc = json.loads(report.read_text())
    assert doc["summary"]["partial"] is True
    assert doc["summary"]["tests_checked"] == 4
    result.stdout.fnmatch_lines(["*PARTIAL*"])
