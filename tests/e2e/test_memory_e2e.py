"""@pytest.mark.max_memory_growth and the memory_baseline fixture end to end, through the real plugin."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

RUN_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}


GROWTH = textwrap.dedent(
    """
    import io

    import numpy as np
    import pytest
    from PIL import Image

    KEPT = []
    CACHE = {}


    @pytest.mark.max_memory_growth("256 KiB")
    def test_leaks_one_mib_per_call():
        KEPT.append(b"x" * (1 << 20))


    @pytest.mark.max_memory_growth("256 KiB")
    def test_cache_fills_once_then_stops():
        if "atlas" not in CACHE:
            CACHE["atlas"] = np.ones((1024, 1024), dtype=np.float32)  # 4 MiB, kept for good
        assert CACHE["atlas"].shape == (1024, 1024)
    """
)


def test_one_mib_per_call_is_caught_and_a_cache_that_fills_once_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_growth=GROWTH)
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["test_growth.py L. *"])
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
    result.stdout.fnmatch_lines(["LEAKED test_growth.py::test_leaks_one_mib_per_call - memory grew 1,0*"])
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


NO_GROWTH = textwrap.dedent(
    """
    import io

    import numpy as np
    import pytest
    from PIL import Image

    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((256, 256)).convert("RGB").save(buffer, "PNG")
    PNG = buffer.getvalue()


    # A limit of one byte: the per-measure noise floors are the only tolerance left.
    @pytest.mark.parametrize("run", range(20))
    @pytest.mark.max_memory_growth(1)
    def test_no_growth(run):
        image = Image.open(io.BytesIO(PNG)).convert("RGBA").resize((300, 300))
        pixels = np.asarray(image).astype(np.float32) / 255.0
        scratch = [bytes(4096) for _ in range(64)]
        assert pixels.mean() > 0 and len(scratch) == 64
    """
)


def test_no_growth_is_not_flagged_in_twenty_consecutive_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_steady=NO_GROWTH)
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    result.assert_outcomes(passed=20)
    doc = load_json(report)
    assert doc["summary"]["tests_checked"] == 20 and doc["summary"]["tests_grew"] == 0
    for entry in doc["tests"]:
        assert entry["verdict"] == "clean", entry["nodeid"]
        assert len(entry["memory"]["iterations"]) == 8  # the work really was repeated


BASELINE = textwrap.dedent(
    """
    import os
    import threading

    from PIL import Image

    KEPT = []
    STOP = threading.Event()


    def test_growth_and_measure(memory_baseline):
        grown = memory_baseline.growth()
        assert {"rss", "malloc", "image_bytes", "fds", "threads"} <= set(grown)

        def decode_and_drop():
            Image.new("RGB", (256, 256)).convert("L")

        result = memory_baseline.measure(decode_and_drop, warmup=2, repeat=4)
        assert [row["warmup"] for row in result.rows] == [1, 1, 0, 0, 0, 0]
        assert result.per_iteration["image_bytes"] == 0

        KEPT.append(Image.new("RGB", (512, 512)))
        assert memory_baseline.growth()["image_bytes"] == 512 * 512 * 4


    def test_leaves_an_fd_and_a_thread(memory_baseline):
        KEPT.append(open(os.devnull, "rb"))
        worker = threading.Thread(target=STOP.wait, name="poller", daemon=True)
        worker.start()
        KEPT.append(worker)


    def test_closes_what_it_opens(memory_baseline):
        with open(os.devnull, "rb"):
            pass
        worker = threading.Thread(target=len, args=((),), name="short")
        worker.start()
        worker.join()


    def test_without_the_fixture():
        KEPT.append(open(os.devnull, "rb"))
    """
)


def test_memory_baseline_fixture_and_what_a_test_leaves_open(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_baseline=BASELINE)
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
