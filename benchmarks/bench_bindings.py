"""Cost of the ledger's binding hooks (issue 13): moderngl and pyglet create/delete pairs, on vs off.

Measured against real EGL contexts (Mesa llvmpipe here):

1. moderngl ``ctx.texture((64, 64), 4)`` + ``release()`` (target <= 1.3x): the same pair in one standalone
   context made with the ledger on, with the ledger's hooks installed and uninstalled, alternating batches;
2. pyglet (headless) ``Texture.create(64, 64)`` + ``delete()``: the same pair with the ledger's errcheck
   hooks installed and uninstalled, alternating batches.

Reports medians of per-call CPU times (``time.process_time``) over the batches.
``python benchmarks/bench_bindings.py [--quick] [--json out.json]`` prints a markdown table (3,000 pairs per
batch, 25 alternating off/on batches after a warm-up batch each).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
# NumPy's OpenBLAS threads spin for a while after start-up, and process_time() counts them: one thread
# keeps that noise out of both sides (nothing here uses BLAS).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLUMNS = ["Measurement", "Hooks off", "Hooks on", "Ratio", "Unit", "Target"]


def _per_call(function: Callable[[], None], calls: int) -> float:
    """µs of CPU time per call: this process's (its driver threads included), not wall time, so that
    the other processes of a busy machine do not land in one side's batches."""
    start = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - start) / calls * 1e6


def _alternate(
    off: Callable[[], None], on: Callable[[], None], calls: int, rounds: int, switch: Callable[[bool], None]
) -> tuple[float, float]:
    """Median µs per call of ``off`` and ``on``, in alternating batches after one warm-up batch each.

    A switch (installing or uninstalling hooks) allocates enough to trigger a full garbage collection
    inside the next batch: it is collected before the clock starts, so neither side pays for it.
    """
    off_times: list[float] = []
    on_times: list[float] = []
    for index in range(rounds + 1):
        for hooked in (False, True) if index % 2 else (True, False):
            switch(hooked)
            gc.collect()
            elapsed = _per_call(on if hooked else off, calls)
            if index:
                (on_times if hooked else off_times).append(elapsed)
    return statistics.median(off_times), statistics.median(on_times)


def bench_moderngl(calls: int, rounds: int, stack_depth: int = 6) -> dict[str, Any] | None:
    """The pair from this script's call stack: six user frames deep, so the creation-site walk takes
    all of ``stack_depth`` frames (under pytest it stops at the test function)."""
    try:
        import moderngl
    except ImportError:
        return None
    from pytest_glleak.ledger import Ledger

    ledger = Ledger(stack_depth=stack_depth)
    ledger.install()
    ledger.test, ledger.phase = "bench", "call"
    # Made with the ledger on: every entry point moderngl loads goes through the ledger's loader.
    ctx = moderngl.create_standalone_context(backend="egl")

    def run() -> None:
        ctx.texture((64, 64), 4).release()

    def switch(on: bool) -> None:
        if on:
            ledger.install()
            ledger.hook_bindings()
        else:
            ledger.uninstall()

    off_us, on_us = _alternate(run, run, calls, rounds, switch)
    ledger.install()
    ledger.hook_bindings()
    assert not ledger.live("texture"), "every texture was released: the ledger must agree"
    kept = ctx.texture((64, 64), 4)
    assert len(ledger.live("texture")) == 1, "a texture kept is in the ledger"
    kept.release()
    ledger.uninstall()
    ctx.release()
    name = "moderngl texture((64, 64), 4) + release()"
    if stack_depth != 6:
        name += f", --glleak-stack-depth={stack_depth}"
    return {"name": name, "off": off_us, "on": on_us, "target": 1.3}


def bench_pyglet(calls: int, rounds: int) -> dict[str, Any] | None:
    try:
        import pyglet
    except ImportError:
        return None
    pyglet.options["headless"] = True
    import pyglet.image
    import pyglet.window

    from pytest_glleak.ledger import Ledger

    window = pyglet.window.Window(width=16, height=16, visible=False)
    window.switch_to()
    ledger = Ledger()
    ledger.install()
    ledger.test, ledger.phase = "bench", "call"

    def run() -> None:
        pyglet.image.Texture.create(64, 64).delete()

    def switch(on: bool) -> None:
        if on:
            ledger.install()
            ledger.hook_bindings()
        else:
            ledger.uninstall()

    off_us, on_us = _alternate(run, run, calls, rounds, switch)
    ledger.uninstall()
    window.close()
    return {"name": "pyglet Texture.create(64, 64) + delete()", "off": off_us, "on": on_us, "target": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    calls, rounds = (200, 5) if args.quick else (3000, 25)
    measured = (bench_moderngl(calls, rounds), bench_moderngl(calls, rounds, 1), bench_pyglet(calls, rounds))
    rows = [row for row in measured if row is not None]
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        ratio = row["on"] / row["off"]
        target = f"<= {row['target']}x" if row["target"] else "-"
        cells = [row["name"], f"{row['off']:.1f}", f"{row['on']:.1f}", f"{ratio:.2f}x", "µs per pair", target]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
