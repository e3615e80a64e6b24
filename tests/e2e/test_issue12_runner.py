"""Issue 12, the runner side: unittest methods, stacked markers, growth below RSS's floor, reruns,
wider-scoped fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

pytest_plugins = ["pytester"]

RUN_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")


SCHEMA = json.loads((Path(__file__).parents[1] / "glleak_report.schema.json").read_text())


def load_json(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    jsonschema.validate(doc, SCHEMA)  # every report of these runs matches the schema
    return doc


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}


def test_max_memory_growth_on_unittest_methods(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/test_unittest_growth.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "-v", f"--glleak-json={report}")

    # The growing method is caught, the clean one passes, the one failing by itself stays failed.
    result.assert_outcomes(passed=1, errors=1, failed=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of TestUnit.test_grows*", "memory grew *"])
    result.stdout.fnmatch_lines(["*test_grows - memory grew 4.0 MiB*"])
    result.stdout.fnmatch_lines(["E       AssertionError: its own failure", "FAILED *test_fails_itself*"])
    tests = by_name(load_json(report))
    assert tests["test_grows"]["verdict"] == "grew"
    assert tests["test_grows"]["memory"]["per_iteration"] >= 4 * 1024 * 1024
    assert tests["test_clean"]["verdict"] == "clean"
    assert len(tests["test_clean"]["memory"]["iterations"]) == 8


def test_max_memory_growth_on_a_doctest_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest

        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(pytest.mark.max_memory_growth("1 MiB"))
        """
    )
    pytester.makepyfile(mod='"""\n>>> 1 + 1\n2\n"""\n')
    result = pytester.runpytest(*RUN_ARGS, "--doctest-modules", "mod.py")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*max_memory_growth on mod.py::mod: a DoctestItem item runs no test function*"]
    )


def test_stacked_no_gl_leak_markers_merge(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/test_stacked.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "-v", f"--glleak-json={report}")

    result.assert_outcomes(passed=1, errors=3)
    tests = by_name(load_json(report))

    def kinds(name: str) -> list[str]:
        return sorted(leak["kind"] for leak in tests[name]["gl"]["leaked"])

    assert kinds("test_module_mark_only") == ["buffer"]
    # Union of kinds; the closest marker naming a kind sets its allowance (buffer: 1 on the test).
    assert kinds("test_twice") == ["texture"]
    # Class mark (texture, allow 1) + module mark (buffer): the texture is allowed, the buffer is not.
    assert kinds("test_in_class") == ["buffer"]
    # Test mark (every kind, allow buffer 1) + class mark (allow texture 1): both allowed.
    assert tests["test_allowed_by_merge"]["verdict"] == "clean"


def test_stacked_growth_markers_take_each_argument_from_the_closest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        KEPT = []
        pytestmark = pytest.mark.max_memory_growth("64 MiB", warmup=1)

        @pytest.mark.max_memory_growth("64 KiB")
        def test_grows():
            KEPT.append(bytearray(1024 * 1024))
        """
    )
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    result.assert_outcomes(errors=1)
    entry = load_json(report)["tests"][0]
    assert entry["memory"]["limit"] == 64 * 1024  # the test's limit, not the module's
    assert len(entry["memory"]["iterations"]) == 1 + 5  # the module's warmup, the default repeat


def test_growth_limits_below_the_rss_floor_are_measured_on_the_heap(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/test_growth_floor.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "-v", f"--glleak-json={report}")

    # ~37 KB of small objects a repetition is far under RSS's 64 KiB floor: the heap measure sees it.
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*(tracemalloc traced the calls: the limit is judged on heap;*"])
    tests = by_name(load_json(report))
    assert 30_000 < tests["test_small_objects[1500]"]["memory"]["per_iteration"] < 45_000
    assert tests["test_small_objects[5000]"]["verdict"] == "grew"
    assert tests["test_small_objects_clean"]["verdict"] == "clean"
    # A limit under every measure's floor is said at collection, naming the test and the limit.
    result.stdout.fnmatch_lines(
        [
            "*GrowthLimitWarning: pytest-glleak: max_memory_growth limit of 8,192 bytes on "
            "test_growth_floor.py::test_below_any_floor is below what any memory measure can resolve*"
        ]
    )


def test_a_leak_on_a_first_attempt_only_is_a_flaky_leak(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_rerunfailures")
    pytester.copy_example("issue12/test_rerun.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "--reruns", "1", f"--glleak-json={report}", "--glleak-report")

    # Every attempt is kept; the leak of the first attempt gates the run although the rerun is clean.
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*1 passed, 2 errors, 3 rerun in *"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*glleak: flaky leaks (leaked on an earlier attempt, not on the rerun)*",
            "test_rerun.py::test_leaks_first_time_only:",
            "  flaky leak: attempt 1 of 2 leaked 1 texture",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*1 flaky leak", "*", "*", "FLAKY    test_rerun.py::test_leaks_first_time_only"]
    )
    doc = load_json(report)
    tests = by_name(doc)
    flaky = tests["test_leaks_first_time_only"]
    assert (flaky["outcome"], flaky["verdict"], flaky["flaky_leak"]) == ("passed", "clean", True)
    assert [(a["outcome"], a["verdict"]) for a in flaky["attempts"]] == [("leaked", "leaked")]
    assert [leak["kind"] for leak in flaky["attempts"][0]["gl"]["leaked"]] == ["texture"]
    every = tests["test_leaks_every_time"]
    assert (every["verdict"], every["flaky_leak"], len(every["attempts"])) == ("leaked", False, 1)
    assert doc["summary"]["tests_flaky_leak"] == 1


def test_a_rerun_that_passes_clean_both_times_is_not_a_flaky_leak(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_rerunfailures")
    pytester.makepyfile(
        """
        import OpenGL.GL as gl
        import pytest

        CALLS = []

        @pytest.mark.no_gl_leak
        def test_fails_first_clean(gl_context):
            CALLS.append(1)
            texture = gl.glGenTextures(1)
            gl.glDeleteTextures([texture])
            assert len(CALLS) > 1
        """
    )
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "--reruns", "1", f"--glleak-json={report}")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*1 passed, 1 rerun in *"])
    assert result.ret == pytest.ExitCode.OK
    entry = load_json(report)["tests"][0]
    assert (entry["verdict"], entry["flaky_leak"]) == ("clean", False)
    assert [(a["outcome"], a["verdict"]) for a in entry["attempts"]] == [("failed", "clean")]


def test_a_module_fixture_leak_is_reported_when_its_scope_ends(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_modfix.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}", "--glleak-report")

    # test_b's teardown ends the module scope: the fixture's leak is its teardown error, naming the fixture.
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_b _*",
            "fixture atlas (module test_modfix.py) leaked 4 textures",
            "*",
            "fixture atlas (module test_modfix.py) leaked 4 textures, checked when its scope ended:",
            "*",
            "4 GL objects leaked (4 textures), about 16.0 MiB of GPU memory:",
            "  4 textures created at test_modfix.py:7 in atlas():",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*glleak: leaks of wider-scoped fixtures (checked when their scope ended)*",
            "fixture atlas (module test_modfix.py) leaked 4 textures",
        ]
    )
    result.stdout.fnmatch_lines(["LEAKED   test_modfix.py::<fixture atlas>"])
    tests = {entry["nodeid"]: entry for entry in load_json(report)["tests"]}
    # The tests themselves are clean; the tidy fixture (deleted its textures) has no entry.
    assert sorted(tests) == [
        "test_modfix.py::<fixture atlas>",
        "test_modfix.py::test_a",
        "test_modfix.py::test_b",
    ]
    assert tests["test_modfix.py::test_b"]["outcome"] == "passed"
    fixture = tests["test_modfix.py::<fixture atlas>"]
    assert fixture["fixture"] == {"name": "atlas", "scope": "module", "where": "test_modfix.py"}
    assert (fixture["outcome"], fixture["verdict"]) == ("leaked", "leaked")
    assert [leak["kind"] for leak in fixture["gl"]["leaked"]] == ["texture"] * 4
    assert sum(leak["bytes"] for leak in fixture["gl"]["leaked"]) == 16 * 1024 * 1024


def test_a_module_fixture_leak_fails_mode_all(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_modfix.py")
    pytester.path.joinpath("test_modfix.py").write_text(
        pytester.path.joinpath("test_modfix.py").read_text().replace("@pytest.mark.no_gl_leak\n", "")
    )
    result = pytester.runpytest(*RUN_ARGS, "--glleak-mode=all")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["LEAKED test_modfix.py::test_b - fixture atlas (module test_modfix.py) leaked*"]
    )
    # Under the default mode (marked) no marked test uses the fixture: not checked.
    result = pytester.runpytest(*RUN_ARGS)
    result.assert_outcomes(passed=2)


def test_class_and_session_fixtures_and_unmarked_users(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_scopes.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "-v", f"--glleak-json={report}")

    # The class scope ends in test_two's teardown, the session scope in the last test's.
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["*test_two LEAKED*"])
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of TestWithVao.test_two _*",
            "fixture class_vao (class test_scopes.py::TestWithVao) leaked 1 vertex array",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*_ ERROR at teardown of test_last _*", "fixture session_buffer (session) leaked 1 buffer"]
    )
    fixtures = {entry["nodeid"]: entry for entry in load_json(report)["tests"] if "fixture" in entry}
    assert sorted(fixtures) == [
        "<fixture session_buffer>",
        "test_scopes.py::TestWithVao::<fixture class_vao>",
    ]


def test_a_known_fixture_leak_is_accepted_by_the_baseline(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_modfix.py")
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-baseline={baseline}", "--glleak-baseline-update")
    assert result.ret == pytest.ExitCode.OK
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-baseline={baseline}", f"--glleak-json={report}")

    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    fixture = {entry["nodeid"]: entry for entry in load_json(report)["tests"]}[
        "test_modfix.py::<fixture atlas>"
    ]
    assert fixture["verdict"] == "known"


@pytest.mark.xdist
def test_a_module_fixture_leak_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.copy_example("issue12/fixtures/test_modfix.py")
    plain_json, xdist_json = pytester.path / "plain.json", pytester.path / "xdist.json"
    plain = pytester.runpytest(*RUN_ARGS, f"--glleak-json={plain_json}")
    spread = pytester.runpytest(*RUN_ARGS, "-n", "2", f"--glleak-json={xdist_json}")

    assert plain.ret == spread.ret == pytest.ExitCode.TESTS_FAILED
    # Each worker that used the fixture made (and leaked) its own instance; the JSON has one entry.
    spread.stdout.fnmatch_lines(["LEAKED *- fixture atlas (module test_modfix.py) leaked*"])

    def verdicts(path: Path) -> dict[str, tuple[str, str]]:
        return {entry["nodeid"]: (entry["outcome"], entry["verdict"]) for entry in load_json(path)["tests"]}

    assert verdicts(plain_json) == verdicts(xdist_json)
