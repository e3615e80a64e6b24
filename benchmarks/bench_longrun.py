"""Long runs stay flat (issue 16): per-test overhead and process memory over thousands of clean tests.

A large generated suite (``gen_suite.generate_gl_suite``: small clean GL and image tests, half of them
marked) runs as one pytest process per configuration, configurations alternating:

- plugin disabled (``-p no:glleak``);
- ``--glleak-mode=all --glleak-report --glleak-json=PATH`` (every test checked, precise image checks on
  the marked half);
- the same with ``--glleak-image-trace=off`` (the precise mode's share is the difference).

A small sampling plugin in the generated suite (``glbench_longrun``, passed with ``-p``) times every
test's whole protocol (setup, call, teardown: where the plugin's work is) and, every ``--every`` tests,
collects garbage and reads the process RSS (psutil). From those samples:

- per-test CPU time (``process_time``; the wall clock of a shared machine measures its neighbours) in
  the first and the last 1,000 tests (medians, so a stray slow test does not count),
  and their difference;
- memory growth in MiB per 1,000 tests: the least-squares slope of RSS over the samples from test 1,000 on
  (the first 1,000 include warm-up: imports, first-time caches, the GL driver's own start-up);
- each configuration's growth above the disabled run's, which is the plugin's own (the issue's target:
  < 1 MiB per 1,000 clean tests, and per-test time flat within noise).

``--diagnose`` instead runs one in-process pytest (``--glleak-image-trace=off``, so precise mode's own
tracemalloc does not interfere) with tracemalloc started at the test numbered ``--every``, and prints
the growth between that test and the last one, by line, filtered to ``pytest_glleak`` files.

    python benchmarks/bench_longrun.py [--tests 5000] [--rounds 1] [--quick] [--json PATH]
    python benchmarks/bench_longrun.py --diagnose [--tests 3000]

Before/after a change: ``git archive OLD pytest_glleak | tar -x -C /tmp/old`` then ``--before /tmp/old``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_suite import generate_gl_suite
from harness import REPO_ROOT, Section, clean_env, log, machine_identity, median, render_section, write_json

SAMPLER = "glbench_longrun"
WINDOW = 1000
TARGET_MIB_PER_1000 = 1.0

_SAMPLER_SOURCE = '''\
"""pytest plugin for bench_longrun.py: per-test protocol time and RSS samples, written at the end."""

from __future__ import annotations

import gc
import json
import os
import time
import tracemalloc

import psutil
import pytest

_OUT = os.environ["GLBENCH_LONGRUN_OUT"]
_EVERY = int(os.environ.get("GLBENCH_LONGRUN_EVERY", "500"))
_TRACE = os.environ.get("GLBENCH_LONGRUN_TRACE", "") == "1"
_process = psutil.Process()
_times: list[float] = []
_cpu: list[float] = []
_rss: list[tuple[int, int]] = []
_snapshots: list = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        return (yield)
    finally:
        _times.append(time.perf_counter() - start)
        _cpu.append(time.process_time() - cpu_start)
        count = len(_times)
        if count % _EVERY == 0:
            gc.collect()
            _rss.append((count, _process.memory_info().rss))
            if _TRACE:
                if not tracemalloc.is_tracing():
                    tracemalloc.start(8)
                _snapshots.append(tracemalloc.take_snapshot())


def pytest_sessionfinish(session):
    document = {"times": _times, "cpu": _cpu, "rss": _rss}
    if _TRACE and len(_snapshots) >= 2:
        keep = [tracemalloc.Filter(True, os.environ.get("GLBENCH_LONGRUN_FILTER", "*pytest_glleak*"))]
        first, last = (s.filter_traces(keep) for s in (_snapshots[0], _snapshots[-1]))
        document["growth_by_line"] = [
            [str(stat.traceback), stat.size_diff, stat.count_diff]
            for stat in last.compare_to(first, "lineno")[:25]
        ]
        document["growth_by_traceback"] = [
            [stat.traceback.format(), stat.size_diff, stat.count_diff]
            for stat in last.compare_to(first, "traceback")[:10]
        ]
        document["traced_tests"] = [_snapshots and _EVERY, len(_times)]
    with open(_OUT, "w") as stream:
        json.dump(document, stream)
'''

DISABLED = "plugin disabled"
FULL = "mode=all + report + json"
NO_TRACE = "mode=all + report + json, image-trace=off"


def configurations(json_path: Path) -> dict[str, list[str]]:
    """Configuration name -> the pytest arguments that make it (after the suite's own)."""
    full = ["--glleak-mode=all", "--glleak-report", f"--glleak-json={json_path}"]
    return {DISABLED: ["-p", "no:glleak"], FULL: full, NO_TRACE: [*full, "--glleak-image-trace=off"]}


def slope_mib_per_1000(samples: list[tuple[int, int]], start: int = WINDOW) -> float:
    """Least-squares slope of RSS (MiB) against tests run, per 1,000 tests, over samples from ``start``."""
    points = [(count, rss / 2**20) for count, rss in samples if count >= start]
    if len(points) < 2:
        return float("nan")
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    variance = sum((x - mean_x) ** 2 for x, _ in points)
    return 1000 * covariance / variance if variance else float("nan")


def summarize(document: dict[str, Any]) -> dict[str, float]:
    """First/last window per-test medians (ms), their difference, and the RSS slope (MiB per 1,000).

    Times are the process's CPU time per test (``process_time``): on a shared machine the wall clock
    mostly measures the neighbours. The wall-clock medians are kept as ``*_wall_ms``.
    """
    times = document["times"]
    cpu = document.get("cpu") or times
    window = min(WINDOW, len(times) // 2)
    first = median(cpu[:window]) * 1e3
    last = median(cpu[-window:]) * 1e3
    rss = [(int(count), int(value)) for count, value in document["rss"]]
    return {
        "tests": len(times),
        "first_wall_ms": median(times[:window]) * 1e3,
        "last_wall_ms": median(times[-window:]) * 1e3,
        "first_ms": first,
        "last_ms": last,
        "drift_ms": last - first,
        "mib_per_1000": slope_mib_per_1000(rss, start=min(WINDOW, len(times) // 2)),
        "rss_end_mib": rss[-1][1] / 2**20 if rss else float("nan"),
    }


def run_once(root: Path, args: list[str], out: Path, env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", SAMPLER, *args]
    start = time.perf_counter()
    completed = subprocess.run(
        command,
        cwd=root,
        env=clean_env({**env, "GLBENCH_LONGRUN_OUT": str(out)}),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    wall = time.perf_counter() - start
    if not out.exists():
        raise RuntimeError(
            f"{' '.join(args)} wrote no samples (exit {completed.returncode}):\n"
            f"{(completed.stdout + completed.stderr)[-2000:]}"
        )
    document: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    document["returncode"] = completed.returncode
    document["wall_s"] = wall
    document["tail"] = completed.stdout.strip().splitlines()[-1:] if completed.stdout else []
    return document


def run(
    tests: int,
    rounds: int,
    every: int,
    workdir: Path,
    timeout_s: float = 1200.0,
    before: Path | None = None,
) -> Section:
    """Generate the suite, run every configuration ``rounds`` times alternately, and tabulate.

    ``before``: a directory holding another version of the ``pytest_glleak`` package (``git archive``
    of an older commit): its plugin configurations run too, labelled "(before)", alternating with ours.
    """
    root = workdir / "longrun-suite"
    suite = generate_gl_suite(root, tests=tests)
    (root / f"{SAMPLER}.py").write_text(_SAMPLER_SOURCE)
    env = {**suite.env, "GLBENCH_LONGRUN_EVERY": str(every)}
    configs = configurations(workdir / "longrun-glleak.json")
    paths: dict[str, str] = {name: suite.env["PYTHONPATH"] for name in configs}
    if before is not None:
        for name in (FULL, NO_TRACE):
            configs[f"{name} (before)"] = configs[name]
            paths[f"{name} (before)"] = os.pathsep.join((str(before.resolve()), suite.env["PYTHONPATH"]))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    raw: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    names = list(configs)
    for round_index in range(rounds):
        for offset in range(len(names)):
            name = names[(round_index + offset) % len(names)]
            document = run_once(
                root,
                [*suite.args, *configs[name]],
                workdir / "samples.json",
                {**env, "PYTHONPATH": paths[name]},
                timeout_s,
            )
            summary = summarize(document)
            results[name].append(summary)
            raw[name].append(
                {
                    "rss": document["rss"],
                    "wall_s": document["wall_s"],
                    "returncode": document["returncode"],
                    "tail": document["tail"],
                    **summary,
                }
            )
            log(
                f"round {round_index + 1}/{rounds} {name}: {document['wall_s']:.1f}s "
                f"rc={document['returncode']} "
                f"first {summary['first_ms']:.3f} ms last {summary['last_ms']:.3f} ms "
                f"{summary['mib_per_1000']:.2f} MiB/1000"
            )
    base_slope = median([r["mib_per_1000"] for r in results[DISABLED]])
    base_first = median([r["first_ms"] for r in results[DISABLED]])
    base_last = median([r["last_ms"] for r in results[DISABLED]])
    section = Section(
        name="longrun",
        title=f"Long runs: {tests} clean generated tests, one process per configuration",
        columns=[
            "Configuration",
            "Per-test, first 1,000 (ms)",
            "Per-test, last 1,000 (ms)",
            "Drift (ms)",
            "Overhead first (ms)",
            "Overhead last (ms)",
            "RSS growth (MiB/1,000)",
            "Above disabled (MiB/1,000)",
            "Target",
            "Met",
            "Exit codes",
        ],
    )
    for name in names:
        first = median([r["first_ms"] for r in results[name]])
        last = median([r["last_ms"] for r in results[name]])
        slope = median([r["mib_per_1000"] for r in results[name]])
        above = slope - base_slope
        row: dict[str, Any] = {
            "Configuration": name,
            "Per-test, first 1,000 (ms)": first,
            "Per-test, last 1,000 (ms)": last,
            "Drift (ms)": last - first,
            "Overhead first (ms)": None if name == DISABLED else first - base_first,
            "Overhead last (ms)": None if name == DISABLED else last - base_last,
            "RSS growth (MiB/1,000)": slope,
            "Above disabled (MiB/1,000)": None if name == DISABLED else above,
            "Target": "" if name == DISABLED else f"< {TARGET_MIB_PER_1000:g} MiB/1,000 above disabled",
            "Met": "" if name == DISABLED else ("yes" if above < TARGET_MIB_PER_1000 else "**no**"),
            "Exit codes": ", ".join(sorted({str(r["returncode"]) for r in raw[name]})),
        }
        section.rows.append(row)
    section.notes += [
        f"{tests} tests ({suite.description}); {rounds} round(s), configurations alternating; "
        "medians over rounds.",
        "Per-test time: median CPU time (process_time) of each test's whole protocol (setup + call + "
        "teardown) in the first and the last 1,000 tests. Overhead = that minus the disabled run's.",
        f"RSS: after gc.collect() every {every} tests; growth = least-squares slope from test 1,000 on.",
    ]
    section.raw = {"tests": tests, "rounds": rounds, "every": every, "runs": raw}
    return section


def diagnose(tests: int, every: int, workdir: Path, image_trace: str, where: str = "*pytest_glleak*") -> int:
    """Print where the plugin's own memory grows between test ``every`` and the last test (tracemalloc)."""
    root = workdir / "longrun-suite"
    suite = generate_gl_suite(root, tests=tests)
    (root / f"{SAMPLER}.py").write_text(_SAMPLER_SOURCE)
    out = workdir / "diagnose.json"
    env = {
        **suite.env,
        "GLBENCH_LONGRUN_EVERY": str(every),
        "GLBENCH_LONGRUN_TRACE": "1",
        "GLBENCH_LONGRUN_FILTER": where,
    }
    args = [
        *suite.args,
        "--glleak-mode=all",
        "--glleak-report",
        f"--glleak-json={workdir / 'd.json'}",
        f"--glleak-image-trace={image_trace}",
    ]
    document = run_once(root, args, out, env, 3600.0)
    print(f"traced from test {every} to test {len(document['times'])}; exit {document['returncode']}")
    print(f"growth by line (innermost frame in {where}), bytes / blocks:")
    for where, size, count in document.get("growth_by_line", []):
        print(f"  {size / 1024:9.1f} KiB {count:+7d}  {where}")
    print("largest growth by traceback:")
    for frames, size, count in document.get("growth_by_traceback", []):
        print(f"  {size / 1024:9.1f} KiB {count:+7d}")
        for line in frames:
            print(f"      {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Per-test overhead and memory growth over a long run.")
    parser.add_argument("--tests", type=int, default=None, help="tests in the generated suite (default 5000)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each configuration, alternating")
    parser.add_argument("--every", type=int, default=500, help="sample RSS every N tests")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 tests, one round")
    parser.add_argument("--json", type=Path, default=None, help="write the section as JSON here")
    parser.add_argument("--diagnose", action="store_true", help="tracemalloc diff of pytest_glleak's memory")
    parser.add_argument("--image-trace", default="off", choices=("on", "off"), help="with --diagnose")
    parser.add_argument("--where", default="*pytest_glleak*", help="with --diagnose: files to count (glob)")
    parser.add_argument(
        "--before",
        type=Path,
        default=None,
        help="also run the pytest_glleak package found in this directory (e.g. a git archive of an older "
        "commit), alternating: a before/after table",
    )
    options = parser.parse_args(argv)
    tests = options.tests or (2000 if options.quick else 5000)
    with tempfile.TemporaryDirectory(prefix="glleak-longrun-") as directory:
        workdir = Path(directory)
        if options.diagnose:
            return diagnose(tests, options.every, workdir, options.image_trace, options.where)
        section = run(tests, options.rounds, options.every, workdir, before=options.before)
    print(render_section(section))
    if options.json is not None:
        write_json(
            options.json,
            {
                **section.as_json(),
                "machine": machine_identity(),
                "cwd": str(REPO_ROOT),
                "load_average": list(os.getloadavg()),
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
