"""Issue 12, wider-scoped fixtures: their image buffers, a render thread's leak, fixtures finalized after
the last test, each plainly and under ``-n 2``."""

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


def entries(path: Path) -> dict[str, dict[str, Any]]:
    return {entry["nodeid"]: entry for entry in load_json(path)["tests"]}


def verdicts(path: Path) -> dict[str, tuple[str, str]]:
    return {nodeid: (entry["outcome"], entry["verdict"]) for nodeid, entry in entries(path).items()}


def unmark(pytester: pytest.Pytester, name: str) -> None:
    path = pytester.path / name
    path.write_text(path.read_text().replace("@pytest.mark.no_image_leak\n", ""))


IMAGE_FIXTURES = [
    "test_image_fixtures.py::<fixture cached_atlas>",
    "test_image_fixtures.py::<fixture decoder>",
    "test_image_fixtures.py::test_a",
    "test_image_fixtures.py::test_b",
]


def test_images_kept_by_a_module_fixture_are_its_leak(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_image_fixtures.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    # The module scope ends in test_b's teardown: the fixtures' leaks are its error, naming them; the
    # image the fixture's thread made while test_a ran is not test_a's.
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_b _*",
            "fixture decoder (module test_image_fixtures.py) leaked 1 Pillow image; "
            "fixture cached_atlas (module test_image_fixtures.py) leaked 1 Pillow image",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*glleak: leaks of wider-scoped fixtures (checked when their scope ended)*",
            "fixture decoder (module test_image_fixtures.py) leaked 1 Pillow image",
            "  - Pillow image RGB 256x256 (262,144 bytes) created at test_image_fixtures.py:36, "
            "held by key 'thumb256' of dict CACHE in module test_image_fixtures",
            "fixture cached_atlas (module test_image_fixtures.py) leaked 1 Pillow image",
            "  - Pillow image RGBA 512x512 (1,048,576 bytes) created at test_image_fixtures.py:13, "
            "held by key 'atlas' of dict CACHE in module test_image_fixtures",
        ]
    )
    tests = entries(report)
    # The fixtures that closed and dropped their image, or whose value pytest dropped, have no entry.
    assert sorted(tests) == IMAGE_FIXTURES
    assert tests["test_image_fixtures.py::test_a"]["verdict"] == "clean"
    assert tests["test_image_fixtures.py::test_b"]["outcome"] == "passed"
    atlas = tests["test_image_fixtures.py::<fixture cached_atlas>"]
    assert atlas["fixture"] == {"name": "cached_atlas", "scope": "module", "where": "test_image_fixtures.py"}
    assert (atlas["outcome"], atlas["verdict"], atlas["checks"]) == ("leaked", "leaked", ["images"])
    [image] = atlas["images"]["leaked"]
    assert (image["kind"], image["mode"], image["shape"], image["phase"]) == (
        "pil_image",
        "RGBA",
        [512, 512],
        "setup",
    )
    [thumb] = tests["test_image_fixtures.py::<fixture decoder>"]["images"]["leaked"]
    assert (thumb["shape"], thumb["phase"]) == ([256, 256], "thread")


def test_fixture_images_are_checked_for_every_test_under_mode_all(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_image_fixtures.py")
    unmark(pytester, "test_image_fixtures.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "--glleak-mode=all", f"--glleak-json={report}")

    result.assert_outcomes(passed=1, errors=1)
    # (test_b itself made no image: mode=all checks only the tests that touched GL or images.)
    assert [nodeid for nodeid in sorted(entries(report)) if "<fixture" in nodeid] == IMAGE_FIXTURES[:2]
    # Under the default mode (marked) no marked test uses the fixtures: not checked.
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    assert not [nodeid for nodeid in entries(report) if "<fixture" in nodeid]


def test_a_known_fixture_image_leak_is_accepted_by_the_baseline(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_image_fixtures.py")
    baseline = pytester.path / "baseline.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-baseline={baseline}", "--glleak-baseline-update")
    assert result.ret == pytest.ExitCode.OK
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-baseline={baseline}", f"--glleak-json={report}")

    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    tests = entries(report)
    assert tests["test_image_fixtures.py::<fixture cached_atlas>"]["verdict"] == "known"
    assert tests["test_image_fixtures.py::<fixture decoder>"]["verdict"] == "known"


@pytest.mark.xdist
def test_fixture_images_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.copy_example("issue12/fixtures/test_image_fixtures.py")
    plain_json, xdist_json = pytester.path / "plain.json", pytester.path / "xdist.json"
    plain = pytester.runpytest(*RUN_ARGS, f"--glleak-json={plain_json}")
    spread = pytester.runpytest(*RUN_ARGS, "-n", "2", f"--glleak-json={xdist_json}")

    assert plain.ret == spread.ret == pytest.ExitCode.TESTS_FAILED
    assert verdicts(plain_json) == verdicts(xdist_json)
    assert sorted(verdicts(xdist_json)) == IMAGE_FIXTURES


RENDER_FIXTURE = "test_render_thread_leak.py::<fixture renderer_thread>"


def _render_thread_run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, Path]:
    pytester.copy_example("ledger_blame/eglutil.py")
    pytester.copy_example("ledger_blame/test_render_thread_leak.py")
    report = pytester.path / "report.json"
    return pytester.runpytest(*RUN_ARGS, *args, f"--glleak-json={report}"), report


def _assert_render_thread_verdicts(result: pytest.RunResult, report: Path) -> None:
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*glleak: leaks of wider-scoped fixtures (checked when their scope ended)*",
            "fixture renderer_thread (module test_render_thread_leak.py) leaked 1 texture",
            "  - texture * created at test_render_thread_leak.py:13",
        ]
    )
    tests = entries(report)
    fixtures = [nodeid for nodeid in tests if "<fixture" in nodeid]
    assert fixtures == [RENDER_FIXTURE]
    leaked = tests[RENDER_FIXTURE]["gl"]["leaked"]
    assert [(leak["kind"], leak["phase"]) for leak in leaked] == [("texture", "thread")]
    # Not one of the 200 tests is blamed for the thread's churn or its lost texture.
    outcomes = {
        (entry["outcome"], entry["verdict"]) for nodeid, entry in tests.items() if "<fixture" not in nodeid
    }
    assert len(tests) == 201
    assert outcomes == {("passed", "clean")}


def test_a_render_threads_leak_is_reported_once_as_the_fixtures(pytester: pytest.Pytester) -> None:
    result, report = _render_thread_run(pytester)

    # The last test's teardown ends the module scope: its error is the fixture's leak, not its own.
    result.assert_outcomes(passed=199, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_many[[]199[]] _*",
            "fixture renderer_thread (module test_render_thread_leak.py) leaked 1 texture",
        ]
    )
    _assert_render_thread_verdicts(result, report)


@pytest.mark.xdist
def test_a_render_threads_leak_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result, report = _render_thread_run(pytester, "-n", "2")

    # Each worker's instance of the fixture started its own thread (and lost its own texture): one
    # teardown error per worker, one entry in the report, the same verdicts as a plain run.
    result.assert_outcomes(passed=198, errors=2)
    _assert_render_thread_verdicts(result, report)


SESSION_FIXTURES = ["<fixture session_buffer>", "<fixture session_icon>"]


def test_session_fixtures_finalized_after_the_last_test_are_reported(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_session_end.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    # pytest.exit(returncode=0) ends the run in a test's call: the session fixtures are finalized at
    # session end, outside any test. Their leaks are in the terminal and the JSON, and the run fails.
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*glleak: leaks of wider-scoped fixtures (checked when their scope ended)*",
            "fixture session_icon (session) leaked 1 Pillow image",
            "  - Pillow image RGBA 256x256 (262,144 bytes) created at test_session_end.py:17, "
            "held by item 0 of list CACHE in module test_session_end",
            "fixture session_buffer (session) leaked 1 buffer",
            "  - buffer * created at test_session_end.py:10",
        ]
    )
    tests = entries(report)
    assert sorted(nodeid for nodeid in tests if "<fixture" in nodeid) == SESSION_FIXTURES
    assert tests["<fixture session_buffer>"]["fixture"] == {
        "name": "session_buffer",
        "scope": "session",
        "where": "",
    }
    assert [leak["kind"] for leak in tests["<fixture session_buffer>"]["gl"]["leaked"]] == ["buffer"]
    assert [leak["kind"] for leak in tests["<fixture session_icon>"]["images"]["leaked"]] == ["pil_image"]
    assert tests["test_session_end.py::test_uses_both"]["verdict"] == "clean"


@pytest.mark.xdist
def test_session_fixture_leaks_under_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.copy_example("issue12/fixtures/test_session_end.py")
    path = pytester.path / "test_session_end.py"
    # pytest.exit would end an xdist worker: here the scope ends in each worker's last teardown.
    path.write_text(path.read_text().replace('pytest.exit("enough for today", returncode=0)', "pass"))
    plain_json, xdist_json = pytester.path / "plain.json", pytester.path / "xdist.json"
    plain = pytester.runpytest(*RUN_ARGS, f"--glleak-json={plain_json}")
    spread = pytester.runpytest(*RUN_ARGS, "-n", "2", f"--glleak-json={xdist_json}")

    assert plain.ret == spread.ret == pytest.ExitCode.TESTS_FAILED
    for result in (plain, spread):
        result.stdout.fnmatch_lines_random(
            [
                "fixture session_icon (session) leaked 1 Pillow image",
                "fixture session_buffer (session) leaked 1 buffer",
            ]
        )
    assert verdicts(plain_json) == verdicts(xdist_json)
    assert sorted(nodeid for nodeid in verdicts(xdist_json) if "<fixture" in nodeid) == SESSION_FIXTURES


PARAM_FIXTURE = "test_param_instances.py::<fixture atlas[small]>"


def _assert_param_instance_leak(result: pytest.RunResult, report: Path) -> None:
    result.assert_outcomes(passed=4)  # no test's teardown ended the leaking instance
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*glleak: leaks of wider-scoped fixtures (checked when their scope ended)*",
            "fixture atlas[[]small[]] (module test_param_instances.py) leaked 1 texture, 1 Pillow image",
            "  - texture * created at test_param_instances.py:10",
            "  - Pillow image RGBA 256x256 (262,144 bytes) created at test_param_instances.py:12, "
            "held by item 0 of list CACHE in module test_param_instances",
        ]
    )
    tests = entries(report)
    assert [nodeid for nodeid in tests if "<fixture" in nodeid] == [PARAM_FIXTURE]
    fixture = tests[PARAM_FIXTURE]
    assert (fixture["outcome"], fixture["verdict"], fixture["checks"]) == (
        "leaked",
        "leaked",
        ["gl", "images"],
    )
    assert {
        (entry["outcome"], entry["verdict"]) for nodeid, entry in tests.items() if nodeid != PARAM_FIXTURE
    } == {("passed", "clean")}


def test_a_fixture_instance_finalized_in_a_tests_setup_is_reported(pytester: pytest.Pytester) -> None:
    pytester.copy_example("issue12/fixtures/test_param_instances.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    _assert_param_instance_leak(result, report)


@pytest.mark.xdist
def test_a_fixture_finalized_outside_any_test_on_a_worker_reaches_the_controller(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    pytester.copy_example("issue12/fixtures/test_param_instances.py")
    report = pytester.path / "report.json"
    # loadscope: the module runs on one worker, which finalizes the "small" instance outside any test;
    # the worker's workeroutput carries the findings to the controller.
    result = pytester.runpytest(*RUN_ARGS, "-n", "2", "--dist", "loadscope", f"--glleak-json={report}")

    _assert_param_instance_leak(result, report)
