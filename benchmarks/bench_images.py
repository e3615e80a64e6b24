"""Per-test overhead of the decoded-image check (issue 4), measured in one process, side by side.

Each configuration runs the same small "test" body in batches; batches of all configurations alternate
(A B C D A B C D ...), so drift in a shared, noisy machine hits them alike. A figure is the median over
batches of the per-test time (batch time / tests in the batch).

Configurations, for a small test that decodes a PNG, converts, resizes, views it as a NumPy array and
drops everything (its images are freed):

- ``bare``: Pillow untouched (no tracker installed), no check: what the test costs on its own.
- ``hooks``: tracker installed (the ``Image.im`` setter, ``ImageFile.__init__`` and
  ``__array_interface__`` wrapped), no per-test window: the recording cost alone.
- ``clean path``: installed, plus what the plugin does around every checked test in ``--glleak-mode=all``:
  ``start``, ``set_phase`` x2, ``touched_since``, ``leaks`` (which finds nothing), ``stop``.
- ``precise``: the same with ``precise=True`` (``@pytest.mark.no_image_leak``: tracemalloc for the test).
- ``no images``: a test body that makes no images, with the window (``touched_since`` is false, so the
  plugin never calls ``leaks``): the cost ``--glleak-mode=all`` adds to every other test.
- ``tracemalloc floor``: no tracker, just ``tracemalloc.start(TRACE_FRAMES)`` / ``stop`` around the body:
  what tracing alone costs, below which precise mode cannot go.
- ``copy idiom``: the same small test written with ``np.array(image)`` (a copy, which NumPy now gets from
  the tracker's ``Image.__array__``), bare and on the clean path.

The target is a clean-path overhead under 0.3 ms per test; ``gc.collect()`` is timed too, to show what a
collection on every test would cost instead.

``python benchmarks/bench_images.py [--quick] [--json PATH]``
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Section, log, machine_identity, median, render_section, write_json

TARGET_MS = 0.3


def _png() -> bytes:
    buffer = io.BytesIO()
    from PIL import Image

    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def as_if_called_by_pytest(body: Callable[[], None]) -> Callable[[], None]:
    """``body`` called from a frame whose file is under ``_pytest/``, as pytest's ``pytest_pyfunc_call`` is.

    Creation sites stop at pytest's frames, so under pytest a site walk sees the test's own frames only;
    without this, the benchmark's deeper stack (loop, run, main, module) would be walked on every image.
    """
    namespace: dict[str, Any] = {"body": body}
    exec(compile("def pyfunc_call():\n    body()\n", "<bench>/_pytest/python.py", "exec"), namespace)
    caller: Callable[[], None] = namespace["pyfunc_call"]
    return caller


def run(quick: bool = False) -> Section:
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import tracemalloc

    import numpy as np
    import OpenGL.GL  # noqa: F401 -- a realistic heap: what gc.collect() walks in a GL test process
    from PIL import Image

    from pytest_glleak.heap import ImageTracker
    from pytest_glleak.heap.precise import TRACE_FRAMES

    png = _png()
    tracker = ImageTracker()

    def image_test() -> None:
        image = Image.open(io.BytesIO(png)).convert("RGBA").resize((32, 24))
        pixels = np.asarray(image)
        assert pixels.shape == (24, 32, 4)

    def copy_test() -> None:
        image = Image.open(io.BytesIO(png)).convert("RGBA").resize((32, 24))
        pixels = np.array(image)
        assert pixels.shape == (24, 32, 4)

    def traced(body: Callable[[], None]) -> Callable[[], None]:
        def run_traced() -> None:
            tracemalloc.start(TRACE_FRAMES)
            body()
            tracemalloc.stop()

        return run_traced

    def plain_test() -> None:
        values = [n * n for n in range(50)]
        assert values[-1] == 2401

    def array_test() -> None:
        image = Image.open(io.BytesIO(png)).convert("RGBA").resize((256, 192))
        scaled = np.asarray(image).astype(np.float32) * 2  # two 786 KB NumPy allocations, dropped
        assert scaled.shape == (192, 256, 4)

    def windowed(body: Callable[[], None], precise: bool, handler: bool = True) -> Callable[[], None]:
        def checked() -> None:
            tracker.use_handler = handler
            token = tracker.start("bench::test", 65536, precise=precise)
            tracker.set_phase("call")
            body()
            tracker.set_phase("teardown")
            if tracker.touched_since(token) or precise:
                assert tracker.leaks(token) == []
            tracker.stop(token)

        return checked

    configurations: dict[str, tuple[bool, Callable[[], None]]] = {
        "bare": (False, as_if_called_by_pytest(image_test)),
        "hooks": (True, as_if_called_by_pytest(image_test)),
        "clean path": (True, windowed(as_if_called_by_pytest(image_test), precise=False)),
        "precise": (True, windowed(as_if_called_by_pytest(image_test), precise=True)),
        "precise, tracemalloc": (
            True,
            windowed(as_if_called_by_pytest(image_test), precise=True, handler=False),
        ),
        "arrays, bare": (False, as_if_called_by_pytest(array_test)),
        "arrays, precise": (True, windowed(as_if_called_by_pytest(array_test), precise=True)),
        "arrays, precise, tracemalloc": (
            True,
            windowed(as_if_called_by_pytest(array_test), precise=True, handler=False),
        ),
        "tracemalloc floor": (False, traced(as_if_called_by_pytest(image_test))),
        "copy idiom, bare": (False, as_if_called_by_pytest(copy_test)),
        "copy idiom, clean path": (True, windowed(as_if_called_by_pytest(copy_test), precise=False)),
        "no images, bare": (False, as_if_called_by_pytest(plain_test)),
        "no images, window": (True, windowed(as_if_called_by_pytest(plain_test), precise=False)),
    }
    batches = 7 if quick else 25
    tests = 100 if quick else 200
    samples: dict[str, list[float]] = {name: [] for name in configurations}
    log(f"images: {batches} rounds x {len(configurations)} configurations x {tests} tests")
    for _ in range(2):  # warm caches, code-verdict cache, Pillow plugin registry
        for _name, (installed, body) in configurations.items():
            (tracker.install if installed else _uninstall(tracker))()
            for _ in range(20):
                body()
    for _ in range(batches):
        for name, (installed, body) in configurations.items():
            if installed:
                tracker.install()
            else:
                _uninstall(tracker)()
            gc.collect()
            start = time.perf_counter()
            for _ in range(tests):
                body()
            samples[name].append((time.perf_counter() - start) / tests * 1e3)
    _uninstall(tracker)()
    collect_ms = []
    for _ in range(5 if quick else 15):
        start = time.perf_counter()
        gc.collect()
        collect_ms.append((time.perf_counter() - start) * 1e3)

    per_test = {name: median(values) for name, values in samples.items()}
    clean_overhead = [a - b for a, b in zip(samples["clean path"], samples["bare"], strict=True)]
    hooks_overhead = [a - b for a, b in zip(samples["hooks"], samples["bare"], strict=True)]
    precise_overhead = [a - b for a, b in zip(samples["precise"], samples["bare"], strict=True)]
    traced_overhead = [a - b for a, b in zip(samples["precise, tracemalloc"], samples["bare"], strict=True)]
    arrays_overhead = [
        a - b for a, b in zip(samples["arrays, precise"], samples["arrays, bare"], strict=True)
    ]
    arrays_traced_overhead = [
        a - b for a, b in zip(samples["arrays, precise, tracemalloc"], samples["arrays, bare"], strict=True)
    ]
    floor_overhead = [a - b for a, b in zip(samples["tracemalloc floor"], samples["bare"], strict=True)]
    copy_overhead = [
        a - b for a, b in zip(samples["copy idiom, clean path"], samples["copy idiom, bare"], strict=True)
    ]
    plain_overhead = [
        a - b for a, b in zip(samples["no images, window"], samples["no images, bare"], strict=True)
    ]
    section = Section(
        name="images",
        title="Decoded-image check: per-test overhead (one process, alternating batches)",
        columns=["Measurement", "Median", "Unit", "Samples", "Target", "Met"],
    )
    section.rows = [
        {
            "Measurement": "small image test, no tracker (bare)",
            "Median": per_test["bare"],
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "same test, tracker installed, no check",
            "Median": per_test["hooks"],
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "same test, clean path (start + leaks + stop)",
            "Median": per_test["clean path"],
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "same test, precise (no_image_leak marker, NumPy's handler)",
            "Median": per_test["precise"],
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "overhead: recording hooks only",
            "Median": median(hooks_overhead),
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "overhead: clean path (hooks + window + verdict)",
            "Median": median(clean_overhead),
            "Unit": "ms",
            "Samples": batches,
            "Target": f"< {TARGET_MS:g} ms",
            "Met": median(clean_overhead) < TARGET_MS,
        },
        {
            "Measurement": "overhead: precise mode (no_image_leak marker), NumPy's data-memory handler",
            "Median": median(precise_overhead),
            "Unit": "ms",
            "Samples": batches,
            "Target": f"<= {TARGET_MS:g} ms",
            "Met": median(precise_overhead) <= TARGET_MS,
        },
        {
            "Measurement": "overhead: precise mode, tracemalloc fallback (NumPy < 1.22; before)",
            "Median": median(traced_overhead),
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "overhead: precise, test with two dropped 786 KB arrays, handler",
            "Median": median(arrays_overhead),
            "Unit": "ms",
            "Samples": batches,
            "Target": f"<= {TARGET_MS:g} ms",
            "Met": median(arrays_overhead) <= TARGET_MS,
        },
        {
            "Measurement": "overhead: precise, test with two dropped 786 KB arrays, tracemalloc",
            "Median": median(arrays_traced_overhead),
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": f"overhead: tracemalloc({TRACE_FRAMES}) alone around the test (precise floor)",
            "Median": median(floor_overhead),
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "overhead: clean path, np.array(image) copy idiom",
            "Median": median(copy_overhead),
            "Unit": "ms",
            "Samples": batches,
            "Target": f"< {TARGET_MS:g} ms",
            "Met": median(copy_overhead) < TARGET_MS,
        },
        {
            "Measurement": "overhead: test with no images, window only (mode=all)",
            "Median": median(plain_overhead),
            "Unit": "ms",
            "Samples": batches,
        },
        {
            "Measurement": "for comparison: one full gc.collect()",
            "Median": median(collect_ms),
            "Unit": "ms",
            "Samples": len(collect_ms),
        },
    ]
    section.notes = [
        f"{tests} tests per batch; overhead = configuration minus bare, paired by round, then the median.",
        "The small test decodes a 64x48 PNG, converts to RGBA, resizes, views it with np.asarray, drops it: "
        "6 tracked objects (Pillow's RGBA resize makes two temporaries), each recorded and dropped.",
        "Each body is called from a frame that looks like pytest's (file under _pytest/), where creation "
        "sites stop, as they do in a real run.",
        "Python "
        + sys.version.split()[0]
        + f"; {os.cpu_count()} CPUs, shared with other work: figures are noisy.",
    ]
    section.raw = {"per_test_ms": samples, "gc_collect_ms": collect_ms, "machine": machine_identity()}
    return section


def _uninstall(tracker: Any) -> Callable[[], None]:
    def undo() -> None:
        if tracker.installed:
            tracker.uninstall()

    return undo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-test overhead of the decoded-image check.")
    parser.add_argument("--quick", action="store_true", help="fewer, smaller batches")
    parser.add_argument("--json", type=Path, default=None, help="write the section as JSON to PATH")
    options = parser.parse_args(argv)
    section = run(quick=options.quick)
    print(render_section(section))
    if options.json is not None:
        write_json(options.json, section.as_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
