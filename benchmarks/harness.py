"""Shared pieces of the benchmark harness: timing whole pytest processes, medians, machine identity, tables.

Every benchmark module returns a :class:`Section` (a title, rows of plain builtins, notes); ``run.py`` prints
them as markdown and writes them as JSON. No pytest imports here: pytest runs only in subprocesses.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_DIR = Path(__file__).resolve().parent

#: Environment variables that would change what a measured pytest process does; dropped from its env.
#: PYTHONDONTWRITEBYTECODE too: with it every run re-compiles and re-rewrites every test module and
#: plugin (over a second per run here), which no user's steady state pays and which dilutes every ratio.
_LEAKY_ENV_PREFIXES = (
    "PYTEST_GLLEAK_",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "PYTEST_XDIST_",
    "PYTHONDONTWRITEBYTECODE",
)
#: Bytecode of measured runs goes here, not into the repository's or the suites' ``__pycache__``.
PYCACHE_PREFIX = Path(tempfile.gettempdir()) / "pytest-glleak-bench-pycache"


def log(message: str) -> None:
    """Progress goes to stderr, so stdout is just the table."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values (so a failed configuration still renders)."""
    return statistics.median(values) if values else float("nan")


@dataclass
class Section:
    """One table of the report: ``rows`` are dicts whose keys become the columns, in ``columns`` order."""

    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "columns": self.columns,
            "rows": self.rows,
            "notes": self.notes,
            "raw": self.raw,
        }


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without settings that would leak into a measured pytest run."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_LEAKY_ENV_PREFIXES)}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE_PREFIX)
    env.update(extra or {})
    return env


@dataclass
class ProcessRun:
    """One measured subprocess: wall-clock seconds, exit code, and what pytest said about itself."""

    wall_s: float
    returncode: int
    pytest_s: float | None
    outcome: str
    tail: str


_SUMMARY = re.compile(r"^=*\s*(?P<outcome>[^=\n]*?)\s+in\s+(?P<seconds>[\d.]+)s\b", re.MULTILINE)
_OUTCOME_WORDS = re.compile(
    r"passed|failed|errors?|skipped|deselected|xfailed|xpassed|warnings?|no tests ran"
)


def parse_pytest_summary(output: str) -> tuple[str, float | None]:
    """``("500 passed", 3.21)`` from pytest's last summary line, or ``("", None)`` if there is none."""
    matches = [match for match in _SUMMARY.finditer(output) if _OUTCOME_WORDS.search(match.group("outcome"))]
    if not matches:
        return "", None
    last = matches[-1]
    return last.group("outcome").strip(), float(last.group("seconds"))


def time_process(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout_s: float = 600.0
) -> ProcessRun:
    """Run ``argv`` to completion, timing it with the wall clock (start of spawn to exit)."""
    start = time.perf_counter()
    try:
        completed = subprocess.run(
            list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        elapsed = time.perf_counter() - start
        output = (exc.stdout or "") if isinstance(exc.stdout, str) else ""
        return ProcessRun(elapsed, -9, None, f"timed out after {timeout_s:.0f}s", output[-2000:])
    elapsed = time.perf_counter() - start
    output = completed.stdout + completed.stderr
    outcome, pytest_s = parse_pytest_summary(completed.stdout)
    return ProcessRun(elapsed, completed.returncode, pytest_s, outcome, output[-2000:])


@dataclass
class Configuration:
    """A named way to run a suite: extra pytest arguments, extra environment, and where to run it."""

    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


def pytest_command(*args: str) -> list[str]:
    """``python -m pytest -q -p no:cacheprovider ARGS`` with this interpreter."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


def run_configuration(configuration: Configuration, timeout_s: float = 600.0) -> ProcessRun:
    """One pytest process of ``configuration``, timed."""
    return time_process(
        pytest_command(*configuration.args),
        cwd=configuration.cwd or REPO_ROOT,
        env=clean_env(configuration.env),
        timeout_s=timeout_s,
    )


def alternate(
    configurations: Sequence[Configuration],
    rounds: int,
    *,
    warmup: Iterable[Configuration] = (),
    rounds_of: Mapping[str, int] | None = None,
    seconds_of: Mapping[str, float] | None = None,
    progress: Any = log,
) -> dict[str, list[ProcessRun]]:
    """Run every configuration once per round, round-robin, rotating the starting one each round.

    Rotation keeps any one configuration from always following the same neighbour (a warm page cache,
    a CPU boosted by the previous run). ``rounds_of`` caps the rounds of slow configurations (they take
    part in the first rounds only); ``seconds_of`` stops one once its runs so far took that long in all
    (it always runs at least once).
    """
    for configuration in warmup:
        result = run_configuration(configuration)
        if progress is not None:
            progress(f"warm-up {configuration.name}: {result.wall_s:.2f}s rc={result.returncode}")
    runs: dict[str, list[ProcessRun]] = {configuration.name: [] for configuration in configurations}
    count = len(configurations)
    for round_index in range(rounds):
        for offset in range(count):
            configuration = configurations[(round_index + offset) % count]
            if rounds_of is not None and round_index >= rounds_of.get(configuration.name, rounds):
                continue
            spent = sum(run.wall_s for run in runs[configuration.name])
            if seconds_of is not None and spent >= seconds_of.get(configuration.name, float("inf")):
                continue
            result = run_configuration(configuration)
            runs[configuration.name].append(result)
            if progress is not None:
                progress(
                    f"round {round_index + 1}/{rounds} {configuration.name}: {result.wall_s:.2f}s "
                    f"rc={result.returncode} {result.outcome}"
                )
    return runs


def paired_ratio(runs: Sequence[ProcessRun], baseline: Sequence[ProcessRun]) -> float:
    """Median over rounds of this configuration's time divided by the baseline's time in the same round."""
    ratios = [run.wall_s / base.wall_s for run, base in zip(runs, baseline, strict=False) if base.wall_s > 0]
    return median(ratios)


def run_summary(runs: Sequence[ProcessRun]) -> dict[str, Any]:
    """The JSON record of a configuration's runs: every sample, not just the median."""
    return {
        "wall_s": [round(run.wall_s, 4) for run in runs],
        "pytest_s": [run.pytest_s for run in runs],
        "exit_codes": [run.returncode for run in runs],
        "outcomes": sorted({run.outcome for run in runs}),
        "failed_output_tail": next((run.tail for run in runs if run.returncode not in (0, 5)), None),
    }


def exit_codes_text(runs: Sequence[ProcessRun]) -> str:
    codes = sorted({run.returncode for run in runs})
    return ",".join(str(code) for code in codes)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


_GL_PROBE = """
import json, os
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
from pytest_glleak.gl import create_context
try:
    context = create_context("egl")
    print(json.dumps({"backend": context.backend, "vendor": context.vendor, "renderer": context.renderer,
                      "version": context.version}))
    context.destroy()
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
"""


def machine_identity() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python, package versions, the GL renderer, the repo's commit."""
    gl: dict[str, Any]
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _GL_PROBE], capture_output=True, text=True, timeout=60, env=clean_env()
        )
        gl = json.loads(probe.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        gl = {"error": f"probe failed: {exc}"}
    memory_gib: float | None = None
    try:
        import psutil

        memory_gib = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    packages = [
        "pytest",
        "PyOpenGL",
        "PyOpenGL-accelerate",
        "numpy",
        "pillow",
        "pytest-xdist",
        "pytest-memray",
        "memray",
        "pytest-benchmark",
        "pytest-glleak",
    ]
    return {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": memory_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "packages": {name: _package_version(name) for name in packages},
        "gl": gl,
        "git_commit": commit + ("-dirty" if dirty else ""),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "measured_env": {
            "dropped": sorted(key for key in os.environ if key.startswith(_LEAKY_ENV_PREFIXES)),
            "PYTHONPYCACHEPREFIX": str(PYCACHE_PREFIX),
        },
    }


def machine_line(machine: Mapping[str, Any]) -> str:
    """One line naming the machine, for the top of the table."""
    gl = machine.get("gl", {})
    renderer = gl.get("renderer") or gl.get("error", "no GL")
    gl_text = f"{renderer}, {gl.get('version', '')}".strip(", ")
    load = machine.get("load_average_at_start")
    load_text = f", load average at start {load[0]:.2f}" if load else ""
    return (
        f"{machine.get('cpu_model')} ({machine.get('cpu_count')} cores), Python {machine.get('python')}, "
        f"{gl_text}, pytest {machine.get('packages', {}).get('pytest')}{load_text}, "
        f"commit {machine.get('git_commit') or '?'}"
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        if magnitude >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(item) for item in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """A GitHub markdown table; missing cells are blank."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(column)) for column in columns) + " |")
    return "\n".join(lines)


def render_section(section: Section) -> str:
    parts = [f"### {section.title}", "", markdown_table(section.columns, section.rows)]
    if section.notes:
        parts.append("")
        parts.extend(f"- {note}" for note in section.notes)
    return "\n".join(parts)


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write atomically (temp file then rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(temporary, path)
