"""Issue 12, pure parts: the traced growth rule, reruns kept as attempts."""

from __future__ import annotations

import tracemalloc

from pytest_glleak.heap.growth import (
    NOISE_FLOOR,
    RESOLVABLE_GROWTH,
    TRACED_NATIVE_FACTOR,
    MemoryBaseline,
    steady_state_verdict,
)
from pytest_glleak.report.json_report import build_json
from pytest_glleak.report.run import RunReport


def _rows(**growth: int) -> list[dict[str, int]]:
    return [{"iteration": i + 1, "warmup": 0, **growth} for i in range(5)]


def test_a_limit_below_rss_floor_is_judged_on_the_heap() -> None:
    rows = _rows(rss=0, malloc=0, heap=37_000)
    assert steady_state_verdict(rows, 16 * 1024) == (True, 37_000, rows)
    assert steady_state_verdict(_rows(rss=0, malloc=0, heap=9_000), 16 * 1024)[0] is False


def test_traced_native_growth_counts_only_far_above_the_limit() -> None:
    limit = 16 * 1024
    # tracemalloc's bookkeeping: native growth several times the (clean) heap growth is not a leak.
    inflated = _rows(rss=90_000, malloc=85_000, heap=12_000)
    assert steady_state_verdict(inflated, limit, traced=True)[0] is False
    assert steady_state_verdict(inflated, limit, traced=False)[0] is True
    # A native leak far above the limit (not Python's heap) is still caught while traced.
    native = _rows(rss=TRACED_NATIVE_FACTOR * limit + 1, malloc=0, heap=0)
    assert steady_state_verdict(native, limit, traced=True) == (
        True,
        TRACED_NATIVE_FACTOR * limit + 1,
        native,
    )


def test_measure_traces_the_heap_only_when_asked_and_stops_after() -> None:
    kept: list[list[object]] = []
    assert not tracemalloc.is_tracing()
    result = MemoryBaseline(uss=False).measure(
        lambda: kept.append([object() for _ in range(2000)]), warmup=1, repeat=3, trace_heap=True
    )
    assert not tracemalloc.is_tracing()
    assert result.traced
    assert all(row["heap"] > 2000 * 16 for row in result.measured)
    grew, per_iteration, _ = steady_state_verdict(result, RESOLVABLE_GROWTH)
    assert grew and per_iteration >= 2000 * 16
    plain = MemoryBaseline(uss=False).measure(lambda: None, warmup=0, repeat=2)
    assert not plain.traced and "heap" not in plain.measures
    assert RESOLVABLE_GROWTH == min(NOISE_FLOOR.values())


def test_every_attempt_is_kept_and_a_leak_that_disappears_is_flaky() -> None:
    run = RunReport()
    leaked = {"nodeid": "t.py::a", "checks": ["gl"], "verdict": "leaked", "message": "leaked 1 texture"}
    run.add(leaked, "leaked")  # type: ignore[arg-type]
    run.add({"nodeid": "t.py::a", "checks": ["gl"], "verdict": "clean"}, "passed")
    run.add({"nodeid": "t.py::b", "checks": ["gl"], "verdict": "clean"}, "passed")
    [flaky, clean] = run.records
    assert [attempt.outcome for attempt in flaky.attempts] == ["leaked"]
    assert flaky.flaky_leak and not clean.flaky_leak
    assert run.flaky_leaks == [flaky]
    doc = build_json(run)
    assert doc["summary"]["tests_flaky_leak"] == 1
    entry = doc["tests"][0]
    assert entry["flaky_leak"] is True
    assert [(a["outcome"], a["verdict"], a["message"]) for a in entry["attempts"]] == [
        ("leaked", "leaked", "leaked 1 texture")
    ]
    # Leaking on every attempt is a plain leak, not a flaky one.
    again = {**leaked, "nodeid": "t.py::c"}
    run.add(again, "leaked")  # type: ignore[arg-type]
    run.add(again, "leaked")  # type: ignore[arg-type]
    record = run.get("t.py::c")
    assert record is not None and not record.flaky_leak and len(record.attempts) == 1
