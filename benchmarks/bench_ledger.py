"""Cost of the GL object ledger (issue 3), hooks on vs off in one process, side by side.

Measured against a real EGL context (Mesa llvmpipe here):

1. a ``glGenTextures(1)`` + ``glDeleteTextures([t])`` pair through ``OpenGL.GL`` (target <= 1.4x);
2. a 256x256 RGBA ``glTexImage2D`` upload from a NumPy array (target <= 1.1x);
3. a ``glBindTexture``: not hooked (reserved vs live is settled by glIs* at verdict time, and storage
   calls ask GL which object is bound), so it should read about 1.0x;
4. Python memory per live record with 100,000 live objects (tracemalloc; target < 300 bytes);
5. ``leaks_since`` over 100,000 live records: a typical verdict (10 new objects), and every record
   leaked with and without the glIs* confirmation (target < 100 ms).

Timings alternate off/on batches and report medians of per-call CPU times (process time) over the batches.

``python benchmarks/bench_ledger.py [--quick] [--json out.json]`` prints a markdown table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLUMNS = ["Measurement", "Hooks off", "Hooks on", "Ratio", "Unit", "Target", "Met"]


def _per_call(function: Callable[[], None], calls: int) -> float:
    # CPU time of this process, not wall time: on a shared machine the time the process spends
    # descheduled would land on whichever configuration ran then.
    start = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - start) / calls * 1e6


def _side_by_side(ledger: Any, function: Callable[[], None], calls: int, rounds: int) -> tuple[float, float]:
    """Median µs per call with hooks off and on: short batches, alternating, the order swapped each
    round (the machine is shared, so its load drifts), after one warm-up batch of each."""
    off: list[float] = []
    on: list[float] = []
    for index in range(rounds + 1):
        for hooked in (False, True) if index % 2 else (True, False):
            if hooked:
                ledger.install()
            else:
                ledger.uninstall()
            elapsed = _per_call(function, calls)
            if index:
                (on if hooked else off).append(elapsed)
    ledger.uninstall()
    return statistics.median(off), statistics.median(on)


def run(quick: bool = False) -> dict[str, Any]:
    """Every measurement, as ``{"title", "columns", "rows", "notes"}``."""
    from pytest_glleak.gl import ContextUnavailable, create_context

    document: dict[str, Any] = {
        "title": "GL object ledger: hook cost, memory per record, verdict time (EGL)",
        "columns": COLUMNS,
        "rows": [],
        "notes": [],
    }
    try:
        context = create_context("egl", profile="core")
    except ContextUnavailable as exc:
        document["notes"].append(f"no EGL context: {exc}")
        return document
    import numpy as np
    import OpenGL.GL as gl

    from pytest_glleak.ledger import Ledger

    document["notes"].append(f"{context.renderer}, GL {context.version}")
    rounds = 10 if quick else 40
    ledger = Ledger(stack_depth=6)
    ledger.install()
    ledger.context_created(context.native_handle, context.share_group, context.make_current)
    ledger.test, ledger.phase = "bench", "call"
    rows: list[dict[str, Any]] = document["rows"]

    def pair() -> None:
        gl.glDeleteTextures([gl.glGenTextures(1)])

    off, on = _side_by_side(ledger, pair, 300, rounds)
    rows.append(
        {
            "Measurement": "glGenTextures(1) + glDeleteTextures pair",
            "Hooks off": off,
            "Hooks on": on,
            "Ratio": on / off,
            "Unit": "µs/pair",
            "Target": "<= 1.4x",
            "Met": on / off <= 1.4,
        }
    )

    texture = gl.glGenTextures(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    pixels = np.random.default_rng(1).integers(0, 255, (256, 256, 4), dtype=np.uint8)

    def upload() -> None:
        gl.glTexImage2D(
            gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, 256, 256, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, pixels
        )

    off, on = _side_by_side(ledger, upload, 30, rounds)
    rows.append(
        {
            "Measurement": "glTexImage2D 256x256 RGBA upload",
            "Hooks off": off,
            "Hooks on": on,
            "Ratio": on / off,
            "Unit": "µs/call",
            "Target": "<= 1.1x",
            "Met": on / off <= 1.1,
        }
    )

    def bind() -> None:
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)

    off, on = _side_by_side(ledger, bind, 1000, rounds)
    rows.append(
        {
            "Measurement": "glBindTexture",
            "Hooks off": off,
            "Hooks on": on,
            "Ratio": on / off,
            "Unit": "µs/call",
            "Target": "",
            "Met": None,
        }
    )
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    gl.glDeleteTextures([texture])

    # Memory: 100,000 live records made by 1,000 calls of 100 (one creation site, interned).
    count = 100_000
    ledger.install()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    names = np.zeros(100, np.uint32)
    for _ in range(count // 100):
        gl.glCreateTextures(gl.GL_TEXTURE_2D, 100, names)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    per_record = (after - before) / count
    rows.append(
        {
            "Measurement": f"Python memory per live record ({count:,} live)",
            "Hooks off": None,
            "Hooks on": per_record,
            "Ratio": None,
            "Unit": "bytes",
            "Target": "< 300",
            "Met": per_record < 300,
        }
    )

    def timed(function: Callable[[], Any], repeats: int) -> float:
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            function()
            samples.append((time.perf_counter() - start) * 1e3)
        return statistics.median(samples)

    # A typical verdict: 100,000 records alive from earlier tests, 10 made by this test.
    mark = ledger.mark()
    fresh = np.zeros(10, np.uint32)
    gl.glCreateTextures(gl.GL_TEXTURE_2D, 10, fresh)
    typical = timed(lambda: ledger.leaks_since(mark), 20)
    rows.append(
        {
            "Measurement": "leaks_since: 10 new among 100,010 live (glIs* confirmed)",
            "Hooks off": None,
            "Hooks on": typical,
            "Ratio": None,
            "Unit": "ms",
            "Target": "< 100",
            "Met": typical < 100,
        }
    )
    unchecked = timed(lambda: ledger.leaks_since(0, confirm=False), 5)
    rows.append(
        {
            "Measurement": "leaks_since: all 100,010 leaked, ledger only",
            "Hooks off": None,
            "Hooks on": unchecked,
            "Ratio": None,
            "Unit": "ms",
            "Target": "< 100",
            "Met": unchecked < 100,
        }
    )
    confirmed = timed(lambda: ledger.leaks_since(0), 3)
    rows.append(
        {
            "Measurement": "leaks_since: all 100,010 leaked, each confirmed with glIsTexture",
            "Hooks off": None,
            "Hooks on": confirmed,
            "Ratio": None,
            "Unit": "ms",
            "Target": "",
            "Met": None,
        }
    )
    findings = timed(lambda: ledger.to_findings(ledger.leaks_since(0, confirm=False)), 3)
    rows.append(
        {
            "Measurement": "to_findings over 100,010 records (sites formatted)",
            "Hooks off": None,
            "Hooks on": findings,
            "Ratio": None,
            "Unit": "ms",
            "Target": "",
            "Met": None,
        }
    )
    cleanup = timed(lambda: ledger.delete(ledger.leaks_since(0, confirm=False)), 1)
    rows.append(
        {
            "Measurement": "delete() of 100,010 leaked textures (cleanup)",
            "Hooks off": None,
            "Hooks on": cleanup,
            "Ratio": None,
            "Unit": "ms",
            "Target": "",
            "Met": None,
        }
    )
    document["notes"].append(
        f"rounds={rounds}; medians of per-call means over alternating off/on batches; "
        f"hook errors: {len(ledger.hook_errors)}"
    )
    ledger.uninstall()
    context.destroy()
    return document


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def render(document: dict[str, Any]) -> str:
    """The document as a markdown table plus notes."""
    lines = [f"### {document['title']}", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in document["rows"]:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in COLUMNS) + " |")
    lines += [""] + [f"- {note}" for note in document["notes"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    options = parser.parse_args()
    document = run(quick=options.quick)
    print(render(document))
    if options.json is not None:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(document, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
