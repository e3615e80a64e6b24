"""MemoryBaseline and the steady-state rule, with real allocations (no mocked readings)."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pytest_glleak.heap import ImageTracker
from pytest_glleak.heap.growth import (
    NOISE_FLOOR,
    MeasureResult,
    MemoryBaseline,
    format_growth_table,
    live_threads,
    malloc_in_use,
    malloc_trim,
    open_fds,
    steady_state_verdict,
)

MiB = 1 << 20
LIMIT = 256 * 1024  # what a test would write as @pytest.mark.max_memory_growth("256 KiB")
LEAKED: list[Any] = []
CACHE: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _empty_holders() -> Iterator[None]:
    yield
    LEAKED.clear()
    CACHE.clear()


def leak_one_mib() -> None:
    LEAKED.append(b"\x01" * MiB)  # touched pages: RSS and malloc both see it


def decode_and_drop() -> None:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((128, 128)).convert("RGB").save(buffer, "PNG")
    pixels = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGBA"))
    assert float(pixels.astype(np.float32).mean()) > 0


def fill_cache_once() -> None:
    if "atlas" not in CACHE:
        CACHE["atlas"] = np.ones((1024, 1024), dtype=np.float32)  # 4 MiB, kept for good


# --- measure + verdict on real work -------------------------------------------------------------------


def test_one_mib_per_call_leak_is_caught_with_the_defaults() -> None:
    result = MemoryBaseline().measure(leak_one_mib)  # warmup=3, repeat=5

    grew, per_iteration, table = steady_state_verdict(result, LIMIT)

    assert grew
    assert per_iteration >= MiB
    assert len(table) == 8 and [row["warmup"] for row in table] == [1, 1, 1, 0, 0, 0, 0, 0]
    assert all(row["rss"] >= MiB for row in result.measured)
    if malloc_in_use() is not None:
        assert all(row["malloc"] >= MiB for row in result.measured)
    assert format_growth_table(result, LIMIT).splitlines()[-1].startswith("memory grew in every one of 5")


def test_no_growth_is_never_flagged_in_twenty_runs_of_the_check() -> None:
    baseline = MemoryBaseline(uss=False)
    verdicts = []
    for _ in range(20):
        result = baseline.measure(decode_and_drop, warmup=3, repeat=5)
        grew, per_iteration, _ = steady_state_verdict(result, LIMIT)
        verdicts.append((grew, per_iteration))
    assert [grew for grew, _ in verdicts] == [False] * 20, verdicts


def test_cache_that_fills_once_then_stops_passes() -> None:
    result = MemoryBaseline().measure(fill_cache_once)

    grew, per_iteration, table = steady_state_verdict(result, LIMIT)

    assert not grew
    assert per_iteration <= LIMIT
    assert table[0]["rss"] >= 4 * MiB  # the fill shows, in the first warm-up run only


def test_leak_below_the_limit_passes_and_above_fails() -> None:
    result = MemoryBaseline(uss=False).measure(leak_one_mib, warmup=1, repeat=3)

    assert steady_state_verdict(result, 4 * MiB)[0] is False
    assert steady_state_verdict(result, MiB // 2)[0] is True


def test_image_bytes_measure_follows_the_tracker() -> None:
    tracker = ImageTracker()
    tracker.install()
    try:
        result = MemoryBaseline(tracker, uss=False).measure(
            lambda: LEAKED.append(Image.new("RGBA", (256, 256))), warmup=1, repeat=3
        )
    finally:
        tracker.uninstall()
    assert [row["image_bytes"] for row in result.rows] == [256 * 256 * 4] * 4
    assert steady_state_verdict(result, 200 * 1024)[0] is True


# --- the rule on its own --------------------------------------------------------------------------


def rows(warmup: list[int], measured: list[int], measure: str = "rss") -> list[dict[str, int]]:
    table = [{"iteration": i + 1, "warmup": 1, measure: value} for i, value in enumerate(warmup)]
    table += [
        {"iteration": len(warmup) + i + 1, "warmup": 0, measure: value} for i, value in enumerate(measured)
    ]
    return table


def test_rule_ignores_warmup_growth() -> None:
    assert steady_state_verdict(rows([50 * MiB, MiB, MiB], [0, 0, 0, 0, 0]), LIMIT) == (
        False,
        0,
        rows([50 * MiB, MiB, MiB], [0, 0, 0, 0, 0]),
    )


def test_rule_needs_growth_in_every_measured_repetition() -> None:
    assert steady_state_verdict(rows([0] * 3, [MiB, MiB, MiB, MiB, MiB]), LIMIT)[:2] == (True, MiB)
    assert steady_state_verdict(rows([0] * 3, [MiB, MiB, 0, MiB, MiB]), LIMIT)[:2] == (False, 0)
    assert steady_state_verdict(rows([0] * 3, [MiB, MiB, LIMIT, MiB, MiB]), LIMIT)[:2] == (False, LIMIT)


def test_rule_applies_noise_floors_whatever_the_limit() -> None:
    just_above_zero = rows([0], [4096] * 5)  # a page a repetition: RSS noise
    assert steady_state_verdict(just_above_zero, 0)[0] is False
    above_floor = rows([0], [NOISE_FLOOR["rss"] + 1] * 5)
    assert steady_state_verdict(above_floor, 0)[0] is True


def test_rule_ignores_fd_and_thread_counts() -> None:
    table = [{"iteration": i, "warmup": 0, "rss": 0, "fds": 5, "threads": 3} for i in range(1, 6)]
    assert steady_state_verdict(table, 0) == (False, 0, table)


def test_rule_takes_any_growing_measure() -> None:
    table = [{"iteration": i, "warmup": 0, "rss": 0, "malloc": 2 * MiB} for i in range(1, 6)]
    assert steady_state_verdict(table, LIMIT)[:2] == (True, 2 * MiB)


def test_rule_with_no_measured_rows_passes() -> None:
    assert steady_state_verdict(rows([MiB, MiB], []), 0)[:2] == (False, 0)


def test_measure_result_exposes_measured_rows_and_per_iteration() -> None:
    table = rows([9], [3 * MiB, 2 * MiB, 4 * MiB])
    result = MeasureResult({"rss": 0}, table, warmup=1, repeat=3, measures=("rss",))
    assert [row["rss"] for row in result.measured] == [3 * MiB, 2 * MiB, 4 * MiB]
    assert result.per_iteration == {"rss": 2 * MiB}
    assert result.median_per_iteration == {"rss": 3 * MiB}


def test_measure_rejects_nonsense_counts() -> None:
    with pytest.raises(ValueError, match="repeat"):
        MemoryBaseline().measure(lambda: None, warmup=0, repeat=0)


# --- calibration, growth, fds and threads -----------------------------------------------------------------


def test_growth_since_calibration_sees_kept_memory() -> None:
    baseline = MemoryBaseline()
    start = baseline.calibrate()
    assert {"rss", "fds", "threads"} <= start.keys()
    LEAKED.append(b"\x02" * (8 * MiB))
    growth = baseline.growth()
    assert growth["rss"] >= 7 * MiB
    if "malloc" in growth:
        assert growth["malloc"] >= 8 * MiB
    LEAKED.clear()
    assert baseline.growth()["rss"] < 4 * MiB  # malloc_trim gave it back


def test_fds_and_threads_left_open_are_described(tmp_path: Any) -> None:
    baseline = MemoryBaseline(uss=False)
    baseline.calibrate()
    path = tmp_path / "left-open.txt"
    handle = open(path, "w")
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="decoder-pool-1", daemon=True)
    worker.start()
    try:
        fds = baseline.fds_left_open()
        threads = baseline.threads_left_running()
        assert any(str(path) in line for line in fds), fds
        assert any("decoder-pool-1 (daemon)" in line and "wait" in line for line in threads), threads
        assert baseline.growth()["threads"] >= 1
    finally:
        stop.set()
        worker.join()
        handle.close()
    assert baseline.fds_left_open() == []
    assert baseline.threads_left_running() == []


def test_snapshot_helpers_describe_this_process() -> None:
    fds = open_fds()
    assert 0 in fds or 1 in fds or 2 in fds
    readable, writable = os.pipe()
    try:
        assert "pipe:" in open_fds()[readable]
    finally:
        os.close(readable)
        os.close(writable)
    assert threading.get_ident() in live_threads()


def test_malloc_helpers_on_glibc() -> None:
    if malloc_in_use() is None:
        pytest.skip("glibc mallinfo2 not available on this platform")
    assert malloc_trim() is True
    before = malloc_in_use()
    block = bytearray(4 * MiB)
    after = malloc_in_use()
    assert before is not None and after is not None and after - before >= 4 * MiB
    del block


def test_growth_table_shows_every_iteration_and_the_verdict() -> None:
    table = rows([3 * MiB, MiB, 0], [MiB + 1, MiB + 2, MiB + 3, MiB + 4, MiB + 5])
    text = format_growth_table(table, LIMIT)
    lines = text.splitlines()
    assert lines[1].split() == ["iteration", "run", "rss"]
    assert len(lines) == 1 + 1 + 8 + 1
    assert "warm-up" in lines[2] and "+3,145,728" in lines[2]
    assert "measured" in lines[9] and "+1,048,581" in lines[9]
    assert lines[-1] == (
        "memory grew in every one of 5 measured repetitions: at least 1,048,577 bytes each, limit 262,144"
    )
    passing = format_growth_table(rows([MiB], [0, 0]), LIMIT)
    assert "steady state" in passing.splitlines()[-1]
