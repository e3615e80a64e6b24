"""Context creation and the per-test cost of reusing the session context (issue 2).

Three measurements:

1. In fresh processes (one child per sample): the first ``create_context("egl")`` of a process (it pays for
   loading libEGL and the driver), later contexts in the same process, and ``destroy()``.
2. In one process: ``ContextProvider.restore()``, the plugin's per-test work (make current + reset state),
   as a median per call over several batches; and its two halves alone.
3. Whole pytest processes, measured alternately: 1,000 trivial tests that each use ``gl_context`` against
   the same 1,000 tests that do not, plugin enabled in both. The difference per test is the cost of reuse
   as a user sees it (fixture lookup + restore), reported with and without the one context creation.

``python benchmarks/bench_context.py [--quick] [--json PATH]``; ``run.py`` calls :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gen_suite import generate_context_suites, generate_one_test_suite
from harness import (
    Configuration,
    Section,
    alternate,
    clean_env,
    exit_codes_text,
    log,
    median,
    render_section,
    run_summary,
    write_json,
)

#: Target of issue 2: per-test cost of reusing the context, median, on llvmpipe.
REUSE_TARGET_MS = 1.0
#: Issue 16: the per-test restore (make current + reset) within 20 µs.
RESTORE_TARGET_US = 20.0


def measure_in_process(later: int = 5, batches: int = 7, calls: int = 1000) -> dict[str, Any]:
    """Run in a fresh child process: creation times (ms) and per-call restore times (µs)."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    start = time.perf_counter()
    from pytest_glleak.gl import create_context
    from pytest_glleak.gl.provider import ContextProvider

    import_ms = (time.perf_counter() - start) * 1e3

    start = time.perf_counter()
    provider = ContextProvider("egl", "core", None, (256, 256))
    session = provider.get()
    first_ms = (time.perf_counter() - start) * 1e3

    later_ms: list[float] = []
    destroy_ms: list[float] = []
    for _ in range(later):
        start = time.perf_counter()
        extra = create_context("egl")
        later_ms.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        extra.destroy()
        destroy_ms.append((time.perf_counter() - start) * 1e3)
    session.make_current()

    def per_call_us(function: Any) -> float:
        samples = []
        for _ in range(batches):
            start = time.perf_counter()
            for _ in range(calls):
                function()
            samples.append((time.perf_counter() - start) / calls * 1e6)
        return median(samples)

    restore_us = per_call_us(provider.restore)
    make_current_us = per_call_us(session.make_current)
    reset_state_us = per_call_us(session.reset_state)
    result = {
        "backend": session.backend,
        "renderer": session.renderer,
        "import_ms": import_ms,
        "first_context_ms": first_ms,
        "later_context_ms": median(later_ms),
        "destroy_ms": median(destroy_ms),
        "restore_us": restore_us,
        "make_current_us": make_current_us,
        "reset_state_us": reset_state_us,
    }
    provider.close()
    return result


def _child_samples(processes: int) -> list[dict[str, Any]]:
    samples = []
    for index in range(processes):
        completed = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child"],
            capture_output=True,
            text=True,
            timeout=300,
            env=clean_env(),
        )
        try:
            samples.append(json.loads(completed.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            samples.append({"error": (completed.stdout + completed.stderr)[-1500:]})
        log(f"context child {index + 1}/{processes}: {samples[-1].get('first_context_ms', 'error')} ms")
    return samples


def run(quick: bool = False, rounds: int | None = None, workdir: Path | None = None) -> Section:
    """All three measurements, as one table."""
    processes = 3 if quick else 5
    rounds = rounds if rounds is not None else (2 if quick else 5)
    tests = 1000
    section = Section(
        name="context",
        title="GL context: creation and per-test reuse (EGL)",
        columns=["Measurement", "Median", "Unit", "Samples", "Exit codes", "Target", "Met"],
    )

    samples = _child_samples(processes)
    good = [sample for sample in samples if "error" not in sample]
    section.raw["in_process"] = samples
    if not good:
        section.notes.append(f"no EGL context could be made: {samples[0].get('error', '')[-400:]}")
        return section

    def figure(key: str) -> float:
        return median([float(sample[key]) for sample in good])

    restore_ms = figure("restore_us") / 1e3
    section.rows += [
        {
            "Measurement": "import pytest_glleak.gl",
            "Median": figure("import_ms"),
            "Unit": "ms",
            "Samples": len(good),
        },
        {
            "Measurement": "first context in a fresh process",
            "Median": figure("first_context_ms"),
            "Unit": "ms",
            "Samples": len(good),
        },
        {
            "Measurement": "a later context in the same process",
            "Median": figure("later_context_ms"),
            "Unit": "ms",
            "Samples": len(good),
        },
        {
            "Measurement": "destroy a context",
            "Median": figure("destroy_ms"),
            "Unit": "ms",
            "Samples": len(good),
        },
        {
            "Measurement": "per-test restore() (make current + reset state)",
            "Median": figure("restore_us"),
            "Unit": "µs",
            "Samples": len(good),
            "Target": f"<= {RESTORE_TARGET_US:g} µs",
            "Met": restore_ms * 1000 <= RESTORE_TARGET_US,
        },
        {
            "Measurement": "  of which make_current()",
            "Median": figure("make_current_us"),
            "Unit": "µs",
            "Samples": len(good),
        },
        {
            "Measurement": "  of which reset_state()",
            "Median": figure("reset_state_us"),
            "Unit": "µs",
            "Samples": len(good),
        },
    ]

    with tempfile.TemporaryDirectory(prefix="glleak-bench-context-", dir=workdir) as directory:
        with_suite, without_suite = generate_context_suites(Path(directory), tests)
        configurations = [
            Configuration(suite.name, [], suite.env, suite.root) for suite in (with_suite, without_suite)
        ]
        runs = alternate(configurations, rounds, warmup=configurations)
        one = generate_one_test_suite(Path(directory) / "one")
        startup_configurations = [
            Configuration("plugin enabled", one.args, one.env, one.root),
            Configuration("plugin disabled", [*one.args, "-p", "no:glleak"], one.env, one.root),
        ]
        startup = alternate(startup_configurations, rounds, warmup=startup_configurations)
    startup_ms = [
        (a.wall_s - b.wall_s) * 1e3
        for a, b in zip(startup["plugin enabled"], startup["plugin disabled"], strict=False)
    ]
    with_runs, without_runs = runs[with_suite.name], runs[without_suite.name]
    per_test_ms = [(a.wall_s - b.wall_s) / tests * 1e3 for a, b in zip(with_runs, without_runs, strict=False)]
    # pytest's own durations leave out interpreter start-up and imports, the noisiest part of a run.
    per_test_pytest_ms = [
        (a.pytest_s - b.pytest_s) / tests * 1e3
        for a, b in zip(with_runs, without_runs, strict=False)
        if a.pytest_s is not None and b.pytest_s is not None
    ]
    creation_ms = figure("first_context_ms")
    reuse_ms = [value - creation_ms / tests for value in per_test_ms]
    reuse_pytest_ms = [value - creation_ms / tests for value in per_test_pytest_ms]
    if any(run.returncode != 0 for run in with_runs + without_runs):
        section.notes.append("A pytest run exited non-zero: the per-test figures below are not trustworthy.")
    section.rows += [
        {
            "Measurement": f"pytest, {tests} trivial tests using gl_context (wall)",
            "Median": median([run.wall_s for run in with_runs]),
            "Unit": "s",
            "Samples": len(with_runs),
            "Exit codes": exit_codes_text(with_runs),
        },
        {
            "Measurement": f"pytest, the same {tests} tests without gl_context (wall)",
            "Median": median([run.wall_s for run in without_runs]),
            "Unit": "s",
            "Samples": len(without_runs),
            "Exit codes": exit_codes_text(without_runs),
        },
        {
            "Measurement": "per-test cost of gl_context, as a user sees it (difference / tests)",
            "Median": median(per_test_ms),
            "Unit": "ms",
            "Samples": len(per_test_ms),
        },
        {
            "Measurement": "  less the one context creation (reuse only)",
            "Median": median(reuse_ms),
            "Unit": "ms",
            "Samples": len(reuse_ms),
            "Target": f"< {REUSE_TARGET_MS:g} ms",
            "Met": median(reuse_ms) < REUSE_TARGET_MS,
        },
        {
            "Measurement": "  the same from pytest's reported durations (no start-up noise)",
            "Median": median(reuse_pytest_ms),
            "Unit": "ms",
            "Samples": len(reuse_pytest_ms),
            "Target": f"< {REUSE_TARGET_MS:g} ms",
            "Met": median(reuse_pytest_ms) < REUSE_TARGET_MS,
        },
    ]
    section.rows.append(
        {
            "Measurement": "fixed cost per pytest process: plugin load, settings, report header (creates the "
            "context), one trivial test; enabled minus disabled",
            "Median": median(startup_ms),
            "Unit": "ms",
            "Samples": len(startup_ms),
            "Exit codes": exit_codes_text(startup["plugin enabled"] + startup["plugin disabled"]),
        }
    )
    section.raw["startup"] = {name: run_summary(results) for name, results in startup.items()}
    section.raw["startup"]["difference_ms"] = startup_ms
    section.raw["pytest"] = {name: run_summary(results) for name, results in runs.items()}
    section.raw["pytest"]["per_test_ms"] = per_test_ms
    section.raw["pytest"]["per_test_pytest_ms"] = per_test_pytest_ms
    section.notes.append(
        f"Renderer: {good[0].get('renderer')} ({good[0].get('backend')}). In-process figures are medians "
        f"over {len(good)} fresh processes; restore() is a median per call over 7 batches of 1,000 calls."
    )
    section.notes.append(
        f"The pytest pair ran alternately, {rounds} rounds, plugin enabled in both; the per-test cost is the "
        "median over rounds of the paired difference divided by the number of tests."
    )
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Context creation and per-test reuse benchmarks.")
    parser.add_argument("--quick", action="store_true", help="fewer processes and rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the section as JSON to PATH")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        print(json.dumps(measure_in_process()))
        return 0
    section = run(quick=options.quick, rounds=options.rounds)
    print(render_section(section))
    if options.json is not None:
        write_json(options.json, section.as_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
