"""Run every pytest-glleak benchmark, print one markdown table per benchmark, and write them as JSON.

    python benchmarks/run.py [--quick] [--json benchmarks/results/latest.json]

- context (``bench_context.py``): EGL context creation; the per-test cost of reusing the session context.
- suites (``bench_suites.py``): whole pytest runs of a generated 500-test suite and of example_project/,
  plugin disabled / markers only / mode=all / mode=all + report + JSON / pytest-memray; ``-n 2`` vs ``-n 0``.
- ledger (``bench_ledger.py``) and images (``bench_images.py``), when present: run as subprocesses with
  ``--json PATH`` (and ``--quick`` if they accept it); their JSON is merged under their name.
- longrun (``bench_longrun.py``), optional (``--longrun`` or ``--only longrun``; 5,000 tests per
  configuration, several minutes on two cores): per-test overhead in the first vs the last 1,000 tests and
  memory growth per 1,000 clean tests, plugin disabled vs mode=all + report + JSON (with and without
  ``--glleak-image-trace=off``).

Progress goes to stderr; stdout is the markdown, ready to paste into the README. ``--quick`` is a smoke run
of about two minutes; the full run takes under ten minutes on two cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_context
import bench_suites
from harness import (
    BENCHMARKS_DIR,
    REPO_ROOT,
    Section,
    clean_env,
    log,
    machine_identity,
    machine_line,
    markdown_table,
    render_section,
    write_json,
)

DEFAULT_JSON = BENCHMARKS_DIR / "results" / "latest.json"
#: Benchmarks other modules own: name -> script. Each takes ``--json PATH``; missing ones are skipped.
EXTERNAL = {"ledger": "bench_ledger.py", "images": "bench_images.py", "growth": "bench_growth.py"}
#: Long benchmarks run only when asked for (``--longrun`` or ``--only NAME``): name -> (script, timeout s).
OPTIONAL = {"longrun": ("bench_longrun.py", 1800.0)}
SECTIONS = ("context", "suites", *EXTERNAL, *OPTIONAL)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def external_section(name: str, document: Any) -> Section:
    """A table from another benchmark's JSON, whatever reasonable shape it has.

    Understood, in order: our own section shape (``columns`` + ``rows``), a ``rows`` list of flat dicts,
    pytest-benchmark's ``benchmarks`` list, a plain list of dicts, a ``markdown`` string; else its flat
    scalar entries as name/value rows.
    """
    section = Section(name=name, title=f"{name} (bench_{name}.py)", columns=["Name", "Value"])
    section.raw = {"document": document}
    if isinstance(document, dict):
        section.title = str(document.get("title", section.title))
        notes = document.get("notes")
        if isinstance(notes, list):
            section.notes += [str(note) for note in notes]
    rows: Any = None
    if isinstance(document, dict) and isinstance(document.get("rows"), list):
        rows = document["rows"]
        if isinstance(document.get("columns"), list):
            section.columns = [str(column) for column in document["columns"]]
    elif isinstance(document, dict) and isinstance(document.get("benchmarks"), list):
        rows = []
        for benchmark in document["benchmarks"]:
            stats = benchmark.get("stats", {}) if isinstance(benchmark, dict) else {}
            rows.append(
                {
                    "Benchmark": benchmark.get("fullname") or benchmark.get("name"),
                    "Median (µs)": stats.get("median", float("nan")) * 1e6,
                    "IQR (µs)": stats.get("iqr", float("nan")) * 1e6,
                    "Rounds": stats.get("rounds"),
                }
            )
        section.columns = ["Benchmark", "Median (µs)", "IQR (µs)", "Rounds"]
    elif isinstance(document, list):
        rows = document
    if rows is not None:
        flat = [row for row in rows if isinstance(row, dict)]
        section.rows = [{key: value for key, value in row.items() if _scalar(value)} for row in flat]
        if section.columns == ["Name", "Value"]:
            columns: list[str] = []
            for row in section.rows:
                columns += [key for key in row if key not in columns]
            section.columns = columns or section.columns
        return section
    if isinstance(document, dict) and isinstance(document.get("markdown"), str):
        section.notes.insert(0, "(table as written by the benchmark itself)")
        section.raw["markdown"] = document["markdown"]
        return section
    if isinstance(document, dict):
        section.rows = [{"Name": key, "Value": value} for key, value in document.items() if _scalar(value)]
    return section


def run_external(name: str, script: Path, quick: bool, workdir: Path, timeout_s: float = 480.0) -> Section:
    """Run another owner's benchmark script and turn its JSON into a section; failures become notes."""
    json_path = workdir / f"{name}.json"
    command = [sys.executable, str(script), "--json", str(json_path)]
    attempts = [[*command, "--quick"], command] if quick else [command]
    completed: subprocess.CompletedProcess[str] | None = None
    start = time.perf_counter()
    for attempt in attempts:
        log(f"{name}: {' '.join(attempt[1:])}")
        try:
            completed = subprocess.run(
                attempt, cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            return Section(
                name,
                f"{name} (bench_{name}.py)",
                ["Name", "Value"],
                notes=[f"bench_{name}.py timed out after {timeout_s:.0f} s"],
            )
        if not (completed.returncode == 2 and "unrecognized arguments" in completed.stderr):
            break
    assert completed is not None
    elapsed = time.perf_counter() - start
    if not json_path.exists():
        tail = (completed.stdout + completed.stderr)[-800:]
        return Section(
            name,
            f"{name} (bench_{name}.py)",
            ["Name", "Value"],
            notes=[f"bench_{name}.py exited {completed.returncode} without writing JSON: {tail}"],
        )
    try:
        document = json.loads(json_path.read_text())
    except ValueError as exc:
        return Section(
            name,
            f"{name} (bench_{name}.py)",
            ["Name", "Value"],
            notes=[f"bench_{name}.py wrote JSON that does not parse: {exc}"],
        )
    section = external_section(name, document)
    section.notes.append(f"bench_{name}.py exit code {completed.returncode}, {elapsed:.0f} s.")
    return section


def render(document: dict[str, Any], sections: list[Section]) -> str:
    """The whole markdown report: machine, command, then one table per section."""
    parts = [
        "## Benchmark results",
        "",
        f"Measured {document['created']} with `{document['command']}` in {document['duration_s']:.0f} s on: "
        f"{machine_line(document['machine'])}.",
    ]
    for section in sections:
        parts += [
            "",
            render_section(section)
            if section.rows or "markdown" not in section.raw
            else f"### {section.title}\n\n{section.raw['markdown']}",
        ]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run all pytest-glleak benchmarks; print markdown tables; write JSON.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run (about 2 minutes): fewer rounds")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="JSON output path")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the markdown to PATH")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of each whole-pytest comparison")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=None, help="run only these sections")
    parser.add_argument("--no-example", action="store_true", help="skip the example_project suite")
    parser.add_argument(
        "--longrun", action="store_true", help="also run the long-run benchmark (bench_longrun.py, minutes)"
    )
    options = parser.parse_args(argv)
    chosen = set(options.only or [name for name in SECTIONS if name not in OPTIONAL])
    if options.longrun:
        chosen.add("longrun")

    start = time.perf_counter()
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    log("machine identity")
    machine = machine_identity()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="glleak-bench-") as directory:
        workdir = Path(directory)
        if "context" in chosen:
            log("context benchmarks")
            sections.append(bench_context.run(quick=options.quick, rounds=options.rounds, workdir=workdir))
        if "suites" in chosen:
            log("suite benchmarks")
            sections.append(
                bench_suites.run(
                    quick=options.quick,
                    rounds=options.rounds,
                    include_example=not options.no_example,
                    workdir=workdir,
                )
            )
        for name, script_name in EXTERNAL.items():
            if name not in chosen:
                continue
            script = BENCHMARKS_DIR / script_name
            if script.exists():
                sections.append(run_external(name, script, options.quick, workdir))
            else:
                log(f"{script_name} not present: skipped")
        for name, (script_name, timeout_s) in OPTIONAL.items():
            if name in chosen:
                sections.append(
                    run_external(name, BENCHMARKS_DIR / script_name, options.quick, workdir, timeout_s)
                )
    duration = time.perf_counter() - start
    machine["load_average_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    command = (
        "python benchmarks/run.py"
        + (" --quick" if options.quick else "")
        + (" --longrun" if options.longrun else "")
    )
    document: dict[str, Any] = {
        "schema": 1,
        "created": created,
        "command": command,
        "argv": sys.argv,
        "quick": options.quick,
        "duration_s": round(duration, 1),
        "machine": machine,
        "sections": [section.as_json() for section in sections],
    }
    markdown = render(document, sections)
    print(markdown)
    write_json(options.json, document)
    if options.markdown is not None:
        options.markdown.parent.mkdir(parents=True, exist_ok=True)
        options.markdown.write_text(markdown)
    log(f"done in {duration:.0f} s; JSON: {options.json}")
    if duration > 600 and not options.quick:
        log("warning: the full run took over 10 minutes")
    return 0


__all__ = ["external_section", "main", "markdown_table", "render", "run_external"]

if __name__ == "__main__":
    sys.exit(main())
