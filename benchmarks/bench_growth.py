"""What saying where memory grew costs (issue 14), measured in one process, configurations alternating.

- **Passing tests**: a clean test body measured the way ``max_memory_growth`` and ``memory_baseline``
  measure it (3 warm-up + 5 measured calls, each followed by a full collection, ``malloc_trim`` and the
  readings), as today (``MemoryBaseline.measure`` + the rule) and with the diagnosis available
  (``DiagnosingBaseline.measure(fn, limit=...)``, which runs the rule and, finding no growth, nothing
  more). The diagnosis runs only after the rule failed, so the two should match within noise.
- **Failing tests**: for bodies that grow on every call (a 1 MiB ``bytearray`` kept in a list, a 1 MiB
  NumPy array kept, a decoded 512x512 image kept, with the image tracker installed), the test's own
  repetitions (the 8 measured calls) against the diagnosis (the 5 measured calls again under
  ``tracemalloc``, 16 frames, a snapshot and a collection each). Target: diagnosis < 2x the repetitions.

``python benchmarks/bench_growth.py [--quick] [--json PATH]``
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from harness import Section, log, machine_identity, median, render_section, write_json
from PIL import Image

from pytest_glleak.heap import ImageTracker, MemoryBaseline, steady_state_verdict
from pytest_glleak.heap.diagnose import DiagnosingBaseline, growth_diagnosis

LIMIT = 256 * 1024
KEPT: list[Any] = []


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


SMALL_PNG = _png((64, 48))
BIG_PNG = _png((512, 512))


def clean_body() -> None:
    image = Image.open(io.BytesIO(SMALL_PNG)).convert("RGBA").resize((96, 72))
    pixels = np.asarray(image).astype(np.float32) / 255.0
    scratch = [bytes(4096) for _ in range(16)]
    assert pixels.mean() > 0 and len(scratch) == 16


def grows_list() -> None:
    KEPT.append(bytearray(1 << 20))


def grows_numpy() -> None:
    KEPT.append(np.zeros(1 << 17))


def grows_image() -> None:
    KEPT.append(Image.open(io.BytesIO(BIG_PNG)).convert("RGBA"))


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000.0


def passing(tracker: ImageTracker, rounds: int) -> dict[str, list[float]]:
    today = MemoryBaseline(tracker)
    diagnosing = DiagnosingBaseline(tracker)

    def as_today() -> None:
        result = today.measure(clean_body)
        assert not steady_state_verdict(result, LIMIT)[0]

    def with_diagnosis() -> None:
        diagnosing.measure(clean_body, limit=LIMIT)

    samples: dict[str, list[float]] = {"today": [], "with diagnosis": []}
    configurations = list(samples.items())
    for index in range(rounds):
        for name, values in configurations[index % 2 :] + configurations[: index % 2]:
            values.append(_timed(as_today if name == "today" else with_diagnosis))
    return samples


def failing(tracker: ImageTracker, body: Callable[[], None], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {"repetitions": [], "diagnosis": [], "sites": []}
    baseline = MemoryBaseline(tracker)
    for _ in range(rounds):
        start = time.perf_counter()
        result = baseline.measure(body)
        samples["repetitions"].append((time.perf_counter() - start) * 1000.0)
        assert steady_state_verdict(result, LIMIT)[0], "the body should grow"
        start = time.perf_counter()
        where = growth_diagnosis(body, 5, result.per_iteration, None, tracker)
        samples["diagnosis"].append((time.perf_counter() - start) * 1000.0)
        samples["sites"].append(
            len(where["grew_at"]) + len(where["images_per_iteration"]) + len(where["gl_per_iteration"])
        )
        KEPT.clear()
    return samples


def run(quick: bool = False) -> Section:
    rounds = 5 if quick else 15
    tracker = ImageTracker()
    tracker.install()
    section = Section(
        "growth",
        "Saying where memory grew: cost on passing and failing tests",
        ["Case", "Configuration", "Median ms", "Ratio", "Target"],
    )
    try:
        log("growth: passing tests")
        pass_samples = passing(tracker, rounds * 2)
        today, now = median(pass_samples["today"]), median(pass_samples["with diagnosis"])
        ratios = [b / a for a, b in zip(pass_samples["today"], pass_samples["with diagnosis"], strict=True)]
        section.rows.append({"Case": "passing test", "Configuration": "today", "Median ms": round(today, 2)})
        section.rows.append(
            {
                "Case": "passing test",
                "Configuration": "with diagnosis available",
                "Median ms": round(now, 2),
                "Ratio": round(median(ratios), 3),
                "Target": "1.0 within noise",
            }
        )
        section.raw["passing"] = pass_samples
        for name, body in (
            ("1 MiB list", grows_list),
            ("1 MiB NumPy", grows_numpy),
            ("512x512 image", grows_image),
        ):
            log(f"growth: failing test, {name}")
            samples = failing(tracker, body, rounds)
            reps, diag = median(samples["repetitions"]), median(samples["diagnosis"])
            per_round = [d / r for r, d in zip(samples["repetitions"], samples["diagnosis"], strict=True)]
            section.rows.append(
                {
                    "Case": f"failing: {name}",
                    "Configuration": "the test's 8 repetitions",
                    "Median ms": round(reps, 2),
                }
            )
            section.rows.append(
                {
                    "Case": f"failing: {name}",
                    "Configuration": "diagnosis (5 reruns under tracemalloc)",
                    "Median ms": round(diag, 2),
                    "Ratio": round(median(per_round), 3),
                    "Target": "< 2",
                }
            )
            section.raw[name] = samples
    finally:
        tracker.uninstall()
    section.notes.append(
        f"{rounds} rounds (passing: {rounds * 2}, configurations alternating); ratio = median of per-round "
        "ratios; the diagnosis ratio is against the test's own warm-up + measured repetitions."
    )
    section.raw["machine"] = machine_identity()
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cost of saying where memory grew.")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", type=Path, default=None, help="write the section as JSON to PATH")
    options = parser.parse_args(argv)
    section = run(quick=options.quick)
    print(render_section(section))
    if options.json is not None:
        write_json(options.json, section.as_json())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
