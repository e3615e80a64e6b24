"""Whole pytest processes: what the plugin costs on a suite, next to pytest-memray (issue 7).

For each suite (the generated 500 GL/image tests; a copy of ``example_project/`` when it has tests), the
configurations below run round-robin (the starting one rotating each round), and each figure is the median
over rounds; ratios are medians of per-round ratios against the plugin-disabled run of the same round.
Then ``-n 2`` against ``-n 0`` on the generated suite, the same way.

``python benchmarks/bench_suites.py [--quick] [--rounds N] [--json PATH]``; ``run.py`` calls :func:`run`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from gen_suite import Suite, copy_example_suite, generate_gl_suite
from harness import (
    Configuration,
    ProcessRun,
    Section,
    alternate,
    exit_codes_text,
    log,
    median,
    paired_ratio,
    render_section,
    run_summary,
    write_json,
)

BASELINE = "plugin disabled"
MEMRAY = "pytest-memray --memray"
FULL = "mode=all + report + json"
#: Issue 7 targets: the full configuration against the plugin-disabled time; -n 2 against -n 0.
FULL_TARGET_RATIO = 1.15
XDIST_TARGET_SPEEDUP = 1.6
#: pytest-memray stops joining rounds once its runs of one suite took this long (keeps the run < 10 min).
MEMRAY_SECONDS = 60.0


def _configurations(suite: Suite, json_path: Path) -> list[Configuration]:
    def config(name: str, *args: str) -> Configuration:
        return Configuration(name, [*suite.args, *args], suite.env, suite.root)

    configurations = [
        config(BASELINE, "-p", "no:glleak"),
        config("markers only (mode=marked)", "--glleak-mode=marked"),
        config("mode=all", "--glleak-mode=all"),
        config(FULL, "--glleak-mode=all", "--glleak-report", f"--glleak-json={json_path}"),
    ]
    if importlib.util.find_spec("pytest_memray") is not None:
        configurations.append(config(MEMRAY, "-p", "no:glleak", "--memray"))
    return configurations


def _json_report_facts(json_path: Path) -> dict[str, Any]:
    if not json_path.exists():
        return {"written": False}
    facts: dict[str, Any] = {"written": True, "bytes": json_path.stat().st_size}
    try:
        document = json.loads(json_path.read_text())
        if isinstance(document, dict):
            facts["top_level_keys"] = sorted(document)[:20]
    except ValueError as exc:
        facts["parse_error"] = str(exc)
    return facts


def _suite_rows(
    suite: Suite, runs: dict[str, list[ProcessRun]], configurations: list[Configuration]
) -> list[dict[str, Any]]:
    baseline = runs[BASELINE]
    memray_ratio = paired_ratio(runs[MEMRAY], baseline) if MEMRAY in runs else None
    rows = []
    for configuration in configurations:
        results = runs[configuration.name]
        ratio = paired_ratio(results, baseline) if configuration.name != BASELINE else 1.0
        target: str | None = None
        met: bool | None = None
        if configuration.name == FULL:
            target = f"<= {FULL_TARGET_RATIO}x" + (", < memray" if memray_ratio is not None else "")
            met = ratio <= FULL_TARGET_RATIO and (memray_ratio is None or ratio < memray_ratio)
        pytest_times = [run.pytest_s for run in results if run.pytest_s is not None]
        rows.append(
            {
                "Suite": suite.name,
                "Configuration": configuration.name,
                "Wall (s)": median([run.wall_s for run in results]),
                "pytest (s)": median(pytest_times),
                "vs disabled": ratio,
                "Runs": len(results),
                "Exit codes": exit_codes_text(results),
                "Outcome": "; ".join(sorted({run.outcome or "no summary line" for run in results})),
                "Target": target,
                "Met": met,
            }
        )
    return rows


def _xdist_rows(suite: Suite, rounds: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``-n 2`` against ``-n 0``, with the plugin (default mode) and without it (xdist's own cost)."""
    if importlib.util.find_spec("xdist") is None:
        return [], {"skipped": "pytest-xdist is not installed"}
    pairs = {
        "plugin default": [],
        "plugin disabled": ["-p", "no:glleak"],
    }
    configurations = [
        Configuration(f"{label}, -n {workers}", [*suite.args, *extra, "-n", workers], suite.env, suite.root)
        for label, extra in pairs.items()
        for workers in ("0", "2")
    ]
    runs = alternate(configurations, rounds, warmup=[configurations[1]])
    rows = []
    raw: dict[str, Any] = {name: run_summary(results) for name, results in runs.items()}
    for label in pairs:
        serial, parallel = runs[f"{label}, -n 0"], runs[f"{label}, -n 2"]
        speedups = [a.wall_s / b.wall_s for a, b in zip(serial, parallel, strict=False) if b.wall_s > 0]
        speedup = median(speedups)
        raw[f"{label} speedups"] = speedups
        for name, results in ((f"{label}, -n 0", serial), (f"{label}, -n 2", parallel)):
            is_parallel = results is parallel
            checked = is_parallel and label == "plugin default"
            rows.append(
                {
                    "Suite": suite.name,
                    "Configuration": name,
                    "Wall (s)": median([run.wall_s for run in results]),
                    "pytest (s)": median([run.pytest_s for run in results if run.pytest_s is not None]),
                    "vs disabled": None,
                    "Runs": len(results),
                    "Exit codes": exit_codes_text(results),
                    "Outcome": "; ".join(sorted({run.outcome or "no summary line" for run in results})),
                    "Target": (
                        f"speed-up >= {XDIST_TARGET_SPEEDUP}x (got {speedup:.2f}x)"
                        if checked
                        else f"speed-up {speedup:.2f}x"
                        if is_parallel
                        else None
                    ),
                    "Met": speedup >= XDIST_TARGET_SPEEDUP if checked else None,
                }
            )
    return rows, raw


def run(
    quick: bool = False,
    rounds: int | None = None,
    memray_rounds: int | None = None,
    tests: int = 500,
    include_example: bool = True,
    workdir: Path | None = None,
) -> Section:
    """Every suite in every configuration, then the xdist comparison, as one table."""
    rounds = rounds if rounds is not None else (1 if quick else 5)
    # memray makes the generated suite about 20x slower: it joins the first rounds only.
    memray_rounds = min(rounds, memray_rounds if memray_rounds is not None else (1 if quick else 2))
    section = Section(
        name="suites",
        title="Whole pytest runs (wall-clock medians; ratios are per-round pairs against the disabled run)",
        columns=[
            "Suite",
            "Configuration",
            "Wall (s)",
            "pytest (s)",
            "vs disabled",
            "Runs",
            "Exit codes",
            "Outcome",
            "Target",
            "Met",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="glleak-bench-suites-", dir=workdir) as directory:
        root = Path(directory)
        suites = [generate_gl_suite(root / "generated", tests)]
        if include_example:
            example = copy_example_suite(root)
            if example is None:
                section.notes.append("example_project/ has no tests yet: its suite was skipped.")
            else:
                suites.append(example)
        for suite in suites:
            json_path = root / f"glleak-{len(section.raw)}.json"
            configurations = _configurations(suite, json_path)
            log(f"suite {suite.name}: {', '.join(c.name for c in configurations)}; {rounds} rounds")
            # Warm-up: byte-compile the suite and fill the page cache, once with and once without the plugin.
            runs = alternate(
                configurations,
                rounds,
                warmup=configurations[: 1 if quick else 2],
                rounds_of={MEMRAY: memray_rounds},
                seconds_of={MEMRAY: MEMRAY_SECONDS},
            )
            section.rows += _suite_rows(suite, runs, configurations)
            fastest_baseline = min((run.wall_s for run in runs[BASELINE]), default=float("nan"))
            section.raw[suite.name] = {
                "description": suite.description,
                # Interference only ever adds time: the ratio of fastest runs is a second, noise-robust view.
                "ratio_of_fastest_runs": {
                    name: min((run.wall_s for run in results), default=float("nan")) / fastest_baseline
                    for name, results in runs.items()
                },
                "configurations": {c.name: c.args for c in configurations},
                "runs": {name: run_summary(results) for name, results in runs.items()},
                "glleak_json": _json_report_facts(json_path),
            }
            if not json_path.exists():
                section.notes.append(f"{suite.name}: `--glleak-json` wrote no file.")
            if MEMRAY not in runs:
                section.notes.append("pytest-memray is not installed: `pip install pytest-memray`.")
        xdist_rows, xdist_raw = _xdist_rows(suites[0], rounds)
        section.rows += xdist_rows
        section.raw["xdist"] = xdist_raw
    if rounds < 3:
        section.notes.insert(0, f"Only {rounds} round(s) (--quick): a smoke run; these ratios are noise.")
    section.notes.append(
        f"{rounds} round(s) (pytest-memray in the first {memray_rounds}, fewer once its runs of a suite took "
        f"{MEMRAY_SECONDS:.0f} s); configurations run round-robin, the "
        "first one rotating each round. 'Exit codes' lists every distinct code seen (0 = all passed); a "
        "configuration that exits non-zero is shown, not dropped."
    )
    section.notes.append(
        "Every run: `python -m pytest -q -p no:cacheprovider -p glbench_fallback ...` in the suite's "
        "directory; glbench_fallback supplies a plain gl_context only when the plugin is disabled. The "
        "generated suite has half its tests marked (no_gl_leak / no_image_leak), so 'markers only' checks "
        "half of them."
    )
    return section


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Whole-suite benchmarks: plugin configurations vs memray.")
    parser.add_argument("--quick", action="store_true", help="1 round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--memray-rounds", type=int, default=None)
    parser.add_argument("--tests", type=int, default=500, help="size of the generated suite")
    parser.add_argument("--no-example", action="store_true", help="skip example_project/")
    parser.add_argument("--json", type=Path, default=None, help="write the section as JSON to PATH")
    options = parser.parse_args(argv)
    section = run(
        quick=options.quick,
        rounds=options.rounds,
        memray_rounds=options.memray_rounds,
        tests=options.tests,
        include_example=not options.no_example,
    )
    print(render_section(section))
    if options.json is not None:
        write_json(options.json, section.as_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
