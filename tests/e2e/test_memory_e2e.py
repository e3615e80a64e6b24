"""@pytest.mark.max_memory_growth and the memory_baseline fixture end to end, through the real plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

RUN_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}


def test_one_mib_per_call_is_caught_and_a_cache_that_fills_once_passes(pytester: pytest.Pytester) -> None:
    pytester.copy_example("memory/test_growth.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["test_growth.py G. *"])
    # The failure is the table of iterations: 3 warm-up and 5 measured rows (the defaults), then the verdict.
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_leaks_one_mib_per_call _*",
            "Memory growth per repetition (bytes; *",
            "iteration  run *rss*malloc*",
            "1          warm-up *",
            "2          warm-up *",
            "3          warm-up *",
            "4          measured *",
            "5          measured *",
            "6          measured *",
            "7          measured *",
            "8          measured *",
            "memory grew in every one of 5 measured repetitions: at least *, limit 262,144",
        ]
    )
    result.stdout.fnmatch_lines(["GREW test_growth.py::test_leaks_one_mib_per_call - memory grew 1.* MiB*"])
    tests = by_name(load_json(report))
    leaking = tests["test_leaks_one_mib_per_call"]
    assert leaking["verdict"] == "grew" and leaking["checks"] == ["memory"]
    assert leaking["memory"]["limit"] == 256 * 1024
    assert leaking["memory"]["per_iteration"] >= 1 << 20
    rows = leaking["memory"]["iterations"]
    assert [row["warmup"] for row in rows] == [1, 1, 1, 0, 0, 0, 0, 0]
    assert all(row["malloc"] >= 1 << 20 for row in rows if not row["warmup"])
    filling = tests["test_cache_fills_once_then_stops"]
    assert filling["verdict"] == "clean" and filling["outcome"] == "passed"
    assert filling["memory"]["iterations"][0]["malloc"] >= 4 << 20  # it did grow, once, during warm-up


def test_no_growth_is_not_flagged_in_twenty_consecutive_runs(pytester: pytest.Pytester) -> None:
    pytester.copy_example("memory/test_steady.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    result.assert_outcomes(passed=20)
    doc = load_json(report)
    assert doc["summary"]["tests_checked"] == 20 and doc["summary"]["tests_grew"] == 0
    for entry in doc["tests"]:
        assert entry["verdict"] == "clean", entry["nodeid"]
        assert len(entry["memory"]["iterations"]) == 8  # the work really was repeated


def test_memory_baseline_fixture_and_what_a_test_leaves_open(pytester: pytest.Pytester) -> None:
    pytester.copy_example("memory/test_baseline.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    # Open fds and threads are recorded for the report; they never fail a test by themselves.
    result.assert_outcomes(passed=4)
    tests = by_name(load_json(report))
    assert set(tests) == {
        "test_growth_and_measure",
        "test_leaves_an_fd_and_a_thread",
        "test_closes_what_it_opens",
    }
    left = tests["test_leaves_an_fd_and_a_thread"]
    assert len(left["fds_left_open"]) == 1 and left["fds_left_open"][0].endswith(": /dev/null")
    assert len(left["threads_left_running"]) == 1
    assert "poller (daemon) running Event.wait" in left["threads_left_running"][0]
    assert left["checks"] == [] and left["outcome"] == "passed"
    assert tests["test_closes_what_it_opens"]["fds_left_open"] == []
    assert tests["test_closes_what_it_opens"]["threads_left_running"] == []
    assert tests["test_growth_and_measure"]["fds_left_open"] == []
    assert load_json(report)["summary"]["tests_checked"] == 0  # recorded, not checked
