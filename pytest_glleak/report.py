"""Run-level reporting over per-test findings: terminal section, JSON document, JUnit properties.

Pure formatting over the plain-builtin shapes of :mod:`pytest_glleak.findings`; no pytest imports.
The plugin feeds a :class:`RunReport` from the teardown reports (on the xdist controller when there
is one) and calls :func:`terminal_lines`, :func:`build_json` / :func:`write_json` at the end.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_glleak.atomic import write_text_atomic
from pytest_glleak.findings import (
    FINDINGS_VERSION,
    GL_KINDS,
    Frame,
    LeakedGLObject,
    LeakedImage,
    TestFindings,
)

#: Outcomes :meth:`RunReport.add` accepts; ``crashed`` is set by :meth:`RunReport.mark_crashed`.
OUTCOMES: tuple[str, ...] = ("passed", "failed", "leaked", "skipped", "error", "known", "crashed")

#: Memory figures in report order (bytes, except ``fds`` and ``threads`` which are counts).
MEMORY_FIGURES: tuple[str, ...] = ("per_iteration", "rss", "uss", "heap", "image_bytes", "fds", "threads")

#: Image buffer kinds, in report order.
IMAGE_KINDS: tuple[str, ...] = ("pil_image", "ndarray", "pillow_blocks")

#: How many creation sites ``summary.top_sites`` and the terminal section list.
TOP_SITES = 10

UNKNOWN_FILE = "<unknown>"

_PLURALS = {
    "texture": "textures",
    "buffer": "buffers",
    "renderbuffer": "renderbuffers",
    "sampler": "samplers",
    "framebuffer": "framebuffers",
    "vertex_array": "vertex arrays",
    "transform_feedback": "transform feedbacks",
    "program_pipeline": "program pipelines",
    "query": "queries",
    "shader": "shaders",
    "program": "programs",
    "sync": "sync objects",
    "display_list": "display lists",
    "pil_image": "Pillow images",
    "ndarray": "NumPy arrays",
    "pillow_blocks": "Pillow blocks",
}
_SINGULARS = {
    "vertex_array": "vertex array",
    "transform_feedback": "transform feedback",
    "program_pipeline": "program pipeline",
    "sync": "sync object",
    "display_list": "display list",
    "pil_image": "Pillow image",
    "ndarray": "NumPy array",
    "pillow_blocks": "Pillow block",
}


# --- small formatting helpers (shared with html_report and baseline) -------------------------------
def kind_phrase(kind: str, count: int) -> str:
    """``("texture", 3)`` -> ``"3 textures"``; ``("vertex_array", 1)`` -> ``"1 vertex array"``."""
    if count == 1:
        return f"1 {_SINGULARS.get(kind, kind)}"
    return f"{count:,} {_PLURALS.get(kind, kind + 's')}"


def format_bytes(amount: int | float | None, signed: bool = False) -> str:
    """``1572864`` -> ``"1.5 MiB"``; None -> ``"-"``; with ``signed``, growth gets a ``+``."""
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    value = float(abs(amount))
    if value < 1024:
        return f"{sign}{int(value)} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{sign}{value:.1f} {unit}"


_INSTALLED_MARKERS = ("site-packages", "dist-packages")


def portable_path(path: str, root: str | None = None) -> str:
    """A file path that means the same on every checkout, with ``/`` separators.

    Below ``root`` (the pytest rootdir; default the working directory): relative to it. In an installed
    package: the part after ``site-packages`` / ``dist-packages``. Otherwise unchanged.
    """
    if not os.path.isabs(path):
        return path.replace(os.sep, "/")
    base = os.path.abspath(root if root is not None else os.getcwd())
    try:
        relative = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        relative = os.pardir
    if not relative.startswith(os.pardir):
        return relative.replace(os.sep, "/")
    parts = path.replace(os.sep, "/").split("/")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index] in _INSTALLED_MARKERS:
            return "/".join(parts[index + 1 :])
    return path.replace(os.sep, "/")


def site_text(frames: Sequence[Frame] | None) -> str:
    """The innermost frame as ``"viewer/render.py:88 in upload()"``; ``"<unknown site>"`` when empty.

    The path is shown as :func:`portable_path` makes it (relative to the working directory).
    """
    if not frames or frames[0].get("file", UNKNOWN_FILE) == UNKNOWN_FILE:
        return "<unknown site>"
    frame = frames[0]
    file = portable_path(str(frame.get("file", UNKNOWN_FILE)))
    return f"{file}:{frame.get('line', 0)} in {frame.get('function', '?')}()"


def leak_count(item: Mapping[str, Any]) -> int:
    """How many leaks one leaked item stands for: ``count`` for Pillow block counters, else 1."""
    if item.get("kind") == "pillow_blocks":
        return max(int(item.get("count", 1) or 1), 1)
    return 1


def gl_leaks(findings: Mapping[str, Any]) -> list[LeakedGLObject]:
    """The leaked GL objects of one test (empty when the GL check did not run)."""
    section = findings.get("gl") or {}
    return list(section.get("leaked") or [])


def image_leaks(findings: Mapping[str, Any]) -> list[LeakedImage]:
    """The leaked image buffers of one test (empty when the image check did not run)."""
    section = findings.get("images") or {}
    return list(section.get("leaked") or [])


def _counts_by_kind(items: Iterable[Mapping[str, Any]], order: Sequence[str] = ()) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        kind = str(item.get("kind", "?"))
        counts[kind] = counts.get(kind, 0) + leak_count(item)
    ranked = {kind: counts[kind] for kind in order if kind in counts}
    ranked.update({kind: counts[kind] for kind in sorted(counts) if kind not in ranked})
    return ranked


def _bytes_sum(items: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(item.get("bytes", 0) or 0) for item in items)


def kinds_text(items: Iterable[Mapping[str, Any]]) -> str:
    """``"3 textures, 1 buffer"`` for a list of leaked items, in report order of the kinds."""
    counts = _counts_by_kind(items, GL_KINDS + IMAGE_KINDS)
    return ", ".join(kind_phrase(kind, count) for kind, count in counts.items())


def collect_environment(context: object | None = None, **extra: Any) -> dict[str, Any]:
    """The ``environment`` block: Python, platform, and the GL context's identity when one exists.

    ``context`` is duck-typed (a :class:`pytest_glleak.gl.GLContext`); ``extra`` items (e.g.
    ``pyopengl_platform="egl"``, ``mode="all"``, ``xdist_workers=2``) are added as given.
    """
    environment: dict[str, Any] = {
        "python": platform.python_version(),
        "python_implementation": sys.implementation.name,
        "platform": platform.platform(),
    }
    if context is not None:
        for attribute in ("backend", "vendor", "renderer", "version", "profile"):
            value = getattr(context, attribute, None)
            if value is not None:
                environment["gl_version" if attribute == "version" else attribute] = str(value)
    environment.update(extra)
    return environment


# --- the run --------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunRecord:
    """One test of the run: its findings, its outcome, and the process RSS after it (when sampled)."""

    findings: TestFindings
    outcome: str
    process_rss: int | None = None
    worker: str | None = None


class RunReport:
    """The findings of a whole run, in the order tests finished.

    ``environment`` describes where it ran (see :func:`collect_environment`); ``partial`` is set when
    the run was interrupted; :meth:`mark_crashed` records a test whose worker died.
    """

    def __init__(self, environment: Mapping[str, Any] | None = None) -> None:
        self.records: list[RunRecord] = []
        self.environment: dict[str, Any] = dict(environment or {})
        self.partial = False
        #: Exceptions pytest-glleak caught in its own code during the run (all processes).
        self.internal_errors = 0
        self._index: dict[str, int] = {}

    def add(
        self,
        findings: TestFindings,
        outcome: str,
        process_rss: int | None = None,
        worker: str | None = None,
    ) -> None:
        """Record one test. A second record for the same node id (a rerun) replaces the first.

        ``process_rss`` (bytes, the test process's RSS after the test) feeds the HTML memory chart;
        ``worker`` (an xdist worker id) tells apart the processes the samples came from.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        nodeid = findings.get("nodeid")
        if not nodeid:
            raise ValueError("findings without a nodeid cannot be reported")
        record = RunRecord(findings=findings, outcome=outcome, process_rss=process_rss, worker=worker)
        if nodeid in self._index:
            self.records[self._index[nodeid]] = record
        else:
            self._index[nodeid] = len(self.records)
            self.records.append(record)

    def mark_crashed(self, nodeid: str, worker: str | None = None) -> None:
        """Record that ``nodeid`` was running when its worker process crashed (it has no findings)."""
        self.add({"nodeid": nodeid}, "crashed", worker=worker)

    @property
    def crashed(self) -> list[str]:
        """Node ids of the tests whose worker crashed, in run order."""
        return [record.findings["nodeid"] for record in self.records if record.outcome == "crashed"]

    def checked(self) -> list[RunRecord]:
        """The records of tests on which at least one check ran."""
        return [record for record in self.records if record.findings.get("checks")]


def outcome_for(
    verdict: str | None, *, skipped: bool = False, errored: bool = False, failed: bool = False
) -> str:
    """The :data:`OUTCOMES` word for a finished test.

    ``verdict``: the findings' verdict (None when unchecked); ``skipped``: the test was skipped;
    ``errored``: setup or teardown failed for a reason of its own; ``failed``: the call failed for a
    reason of its own (then any leak findings are an extra section and the failure stays the outcome).
    """
    if skipped:
        return "skipped"
    if errored:
        return "error"
    if failed:
        return "failed"
    if verdict in ("leaked", "grew"):
        return "leaked"
    if verdict == "known":
        return "known"
    return "passed"


def _verdict(record: RunRecord) -> str | None:
    return record.findings.get("verdict")


def _is_reportable(record: RunRecord) -> bool:
    return record.outcome == "crashed" or _verdict(record) in ("leaked", "grew", "known")


# --- creation sites across the suite -------------------------------------------------------------
def creation_sites(records: Iterable[RunRecord]) -> list[dict[str, Any]]:
    """Leaks grouped by kind and innermost creation frame, biggest first.

    Each site: ``kind``, ``file``, ``line``, ``function``, ``count`` (objects), ``bytes`` (estimated),
    ``tests`` (how many tests leaked there), ``nodeids`` (sorted).
    """
    sites: dict[tuple[str, str, int, str], dict[str, Any]] = {}
    for record in records:
        nodeid = record.findings.get("nodeid", "")
        items: list[Mapping[str, Any]] = [*gl_leaks(record.findings), *image_leaks(record.findings)]
        for item in items:
            frames = item.get("create_site") or []
            frame = frames[0] if frames else {}
            key = (
                str(item.get("kind", "?")),
                str(frame.get("file", UNKNOWN_FILE)),
                int(frame.get("line", 0)),
                str(frame.get("function", "")),
            )
            site = sites.setdefault(
                key,
                {
                    "kind": key[0],
                    "file": key[1],
                    "line": key[2],
                    "function": key[3],
                    "count": 0,
                    "bytes": 0,
                    "nodeids": set(),
                },
            )
            site["count"] += leak_count(item)
            site["bytes"] += int(item.get("bytes", 0) or 0)
            site["nodeids"].add(nodeid)
    ranked = sorted(
        sites.values(),
        key=lambda site: (-site["count"], -site["bytes"], site["kind"], site["file"], site["line"]),
    )
    for site in ranked:
        site["nodeids"] = sorted(site["nodeids"])
        site["tests"] = len(site["nodeids"])
    return ranked


def site_sentence(site: Mapping[str, Any], kind_total: int) -> str:
    """``"37 textures leaked, all created at viewer/render.py:88 in upload(), by 12 tests"``."""
    count = int(site["count"])
    share = "all created" if count == kind_total else f"of {kind_total:,}, created"
    if site["file"] == UNKNOWN_FILE:
        where = "at an unknown site (no Python frame recorded)"
    else:
        frame: Frame = {"file": site["file"], "line": site["line"], "function": site["function"]}
        where = "at " + site_text([frame])
    tests = int(site["tests"])
    by = f"by {tests} test{'s' * (tests != 1)}"
    sentence = f"{kind_phrase(site['kind'], count)} leaked, {share} {where}, {by}"
    if site.get("bytes"):
        sentence += f" ({format_bytes(site['bytes'])} estimated)"
    return sentence


def _kind_totals(sites: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for site in sites:
        totals[site["kind"]] = totals.get(site["kind"], 0) + int(site["count"])
    return totals


# --- terminal -------------------------------------------------------------------------------------
_STATUS = {"leaked": "LEAKED", "grew": "GREW", "known": "KNOWN", "clean": "clean", "skipped": "skipped"}
_COLUMNS = (
    ("GL objects", 10),
    ("GPU bytes", 10),
    ("images", 7),
    ("image bytes", 12),
    ("memory growth", 14),
    ("heap growth", 12),
)
_INDENT = " " * 9


def _status_word(record: RunRecord) -> str:
    if record.outcome == "crashed":
        return "CRASHED"
    word = _STATUS.get(_verdict(record) or "", record.outcome)
    if word == "clean" and record.outcome in ("failed", "error"):
        return record.outcome
    return word


def _memory_cell(findings: Mapping[str, Any]) -> str:
    memory = findings.get("memory") or {}
    if "per_iteration" in memory:
        return format_bytes(memory["per_iteration"], signed=True) + "/rep"
    if "rss" in memory:
        return format_bytes(memory["rss"], signed=True)
    return "-"


def _row(cells: Sequence[str]) -> str:
    return _INDENT + " ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, _COLUMNS, strict=True))


def _figures(findings: Mapping[str, Any]) -> str | None:
    """The figures line of one test; None when it has nothing to show (no leak, no memory figure)."""
    gl_items = gl_leaks(findings)
    images = image_leaks(findings)
    memory = findings.get("memory") or {}
    if not gl_items and not images and not memory:
        return None
    return _row(
        [
            str(len(gl_items)) if "gl" in findings else "-",
            format_bytes(_bytes_sum(gl_items)) if gl_items else "-",
            str(sum(leak_count(item) for item in images)) if "images" in findings else "-",
            format_bytes(_bytes_sum(images)) if images else "-",
            _memory_cell(findings),
            format_bytes(memory["heap"], signed=True) if "heap" in memory else "-",
        ]
    )


def _details(findings: Mapping[str, Any]) -> list[str]:
    parts: list[str] = []
    gl_items = gl_leaks(findings)
    if gl_items:
        reserved = sum(1 for item in gl_items if item.get("reserved_only"))
        unbound = f" ({reserved} reserved, never bound)" if reserved else ""
        parts.append("GL: " + kinds_text(gl_items) + unbound)
    images = image_leaks(findings)
    if images:
        parts.append("images: " + kinds_text(images))
    memory = findings.get("memory") or {}
    if "per_iteration" in memory and "limit" in memory:
        parts.append(
            f"memory: {format_bytes(memory['per_iteration'], signed=True)} per repetition "
            f"(limit {format_bytes(memory['limit'])})"
        )
    lines = ["; ".join(parts)] if parts else []
    lines.extend(f"known: {note}" for note in findings.get("known") or [])
    for label, key in (("fds left open", "fds_left_open"), ("threads left running", "threads_left_running")):
        if findings.get(key):
            lines.append(f"{label}: {', '.join(findings[key])}")
    return lines


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    # Paths and node ids are never broken, so a single very long one may still exceed the width.
    return textwrap.wrap(
        text,
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first]


def terminal_lines(run: RunReport, verbose: bool = False, width: int = 100) -> list[str]:
    """The ``--glleak-report`` section, without its title bar; lines fit ``width`` columns.

    One entry per test that leaked, grew, matched the baseline or crashed (every checked test with
    ``verbose``): status and node id (never shortened), then its figures and details, indented. Then
    totals and the top creation sites across the suite.
    """
    lines: list[str] = []
    if run.partial:
        lines.append("PARTIAL RUN: interrupted; the figures cover only the tests that finished.")
    checked = run.checked()
    counts = {
        word: sum(1 for record in checked if _verdict(record) == word)
        for word in ("leaked", "grew", "known", "clean")
    }
    summary = (
        f"{len(checked)} test{'s' * (len(checked) != 1)} checked: {counts['leaked']} leaked, "
        f"{counts['grew']} grew, {counts['known']} within the baseline, {counts['clean']} clean"
    )
    crashed = run.crashed
    if crashed:
        summary += f"; {len(crashed)} crashed"
    lines.append(summary)
    shown = [
        record
        for record in run.records
        if record.outcome == "crashed"
        or (record.findings.get("checks") and (verbose or _is_reportable(record)))
    ]
    if not shown:
        return lines
    lines.append("")
    lines.append(f"{'status':<8} test")
    lines.append(_INDENT + " ".join(f"{title:>{width}}" for title, width in _COLUMNS))
    for record in shown:
        nodeid = record.findings.get("nodeid", "?")
        lines.append(f"{_status_word(record):<8} {nodeid}")
        if record.outcome == "crashed":
            where = f" on {record.worker}" if record.worker else ""
            lines.append(f"{_INDENT}worker crashed{where} while running this test; no findings")
            continue
        figures = _figures(record.findings)
        if figures is not None:
            lines.append(figures)
        for detail in _details(record.findings):
            lines.extend(_wrap(detail, width, _INDENT, _INDENT + "  "))
    all_gl = [item for record in checked for item in gl_leaks(record.findings)]
    all_images = [item for record in checked for item in image_leaks(record.findings)]
    totals = _row(
        [
            str(len(all_gl)),
            format_bytes(_bytes_sum(all_gl)),
            str(sum(leak_count(item) for item in all_images)),
            format_bytes(_bytes_sum(all_images)),
            "",
            "",
        ]
    ).rstrip()
    lines.append("total" + totals[5:])
    sites = creation_sites(checked)
    if sites:
        kind_totals = _kind_totals(sites)
        listed = sites if verbose else sites[:TOP_SITES]
        lines.append("")
        lines.append("Top creation sites:" if len(listed) < len(sites) else "Creation sites:")
        for site in listed:
            lines.extend(_wrap(site_sentence(site, kind_totals[site["kind"]]), width, "  ", "    "))
        if len(listed) < len(sites):
            lines.append(f"  ... and {len(sites) - len(listed)} more sites (-v lists all; see --glleak-json)")
    return lines


# --- JSON -----------------------------------------------------------------------------------------
def _frames(frames: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {
            "file": str(frame.get("file", UNKNOWN_FILE)),
            "line": int(frame.get("line", 0)),
            "function": str(frame.get("function", "")),
        }
        for frame in frames or []
    ]


def _gl_item(item: Mapping[str, Any], process_local: bool) -> dict[str, Any]:
    converted = {
        "kind": str(item.get("kind", "?")),
        "label": item.get("label"),
        "bytes": int(item.get("bytes", 0)),
        "phase": str(item.get("phase", "call")),
        "reserved_only": bool(item.get("reserved_only", False)),
        "create_site": _frames(item.get("create_site")),
    }
    if process_local:
        converted["name"] = int(item.get("name", 0))
        converted["context"] = int(item.get("context", 0))
    return converted


_KIND_RANK = {kind: rank for rank, kind in enumerate(GL_KINDS + IMAGE_KINDS)}


def _in_stable_order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Independent of the order the ledger or tracker listed them in, so any process gives the same list.
    return sorted(
        items,
        key=lambda item: (
            _KIND_RANK.get(item["kind"], len(_KIND_RANK)),
            item["kind"],
            site_text(item["create_site"]),
            json.dumps(item, sort_keys=True),
        ),
    )


_IMAGE_OPTIONAL = ("mode", "dtype", "shape", "count", "held_by", "phase")


def _image_item(item: Mapping[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "kind": str(item.get("kind", "?")),
        "bytes": int(item.get("bytes", 0) or 0),
        "create_site": _frames(item.get("create_site")),
    }
    for key in _IMAGE_OPTIONAL:
        if key in item:
            value = item[key]
            converted[key] = [int(part) for part in value] if key == "shape" and value is not None else value
    return converted


def json_test_entry(record: RunRecord, process_local: bool = False) -> dict[str, Any]:
    """One element of the JSON ``tests`` list: plain builtins, independent of run order and process.

    GL names and context ids depend on what ran before in the same process (Mesa does not reuse
    names), so they are left out unless ``process_local``; leaked items are listed in a stable order.
    """
    findings = record.findings
    gl_section = findings.get("gl")
    images_section = findings.get("images")
    memory = findings.get("memory")
    return {
        "nodeid": findings.get("nodeid", ""),
        "outcome": record.outcome,
        "verdict": findings.get("verdict"),
        "checks": list(findings.get("checks") or []),
        "message": findings.get("message"),
        "gl": None
        if gl_section is None
        else {
            "created": {str(k): int(v) for k, v in (gl_section.get("created") or {}).items()},
            "deleted": {str(k): int(v) for k, v in (gl_section.get("deleted") or {}).items()},
            "leaked": _in_stable_order(
                [_gl_item(item, process_local) for item in gl_section.get("leaked") or []]
            ),
        },
        "images": None
        if images_section is None
        else {
            "leaked": _in_stable_order([_image_item(item) for item in images_section.get("leaked") or []]),
        },
        "memory": None if memory is None else json.loads(json.dumps(memory)),
        "known": list(findings.get("known") or []),
        "fds_left_open": list(findings.get("fds_left_open") or []),
        "threads_left_running": list(findings.get("threads_left_running") or []),
    }


def _site_json(site: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("kind", "file", "line", "function", "count", "bytes", "tests", "nodeids")
    return {key: site[key] for key in keys}


def build_json(run: RunReport, sort_tests: bool = True, process_local: bool = False) -> dict[str, Any]:
    """The ``--glleak-json`` document (see ``tests/glleak_report.schema.json``).

    With ``sort_tests`` (the default) ``tests`` is sorted by node id and nothing in it depends on the
    process a test ran in, so a ``-n 2`` run and a plain run give the same list (memory figures aside,
    which are measurements). ``sequence`` keeps the order tests finished in, for the HTML chart.
    ``process_local`` adds each leaked GL object's ``name`` and ``context`` id (for debugging).
    """
    records = sorted(run.records, key=lambda r: r.findings.get("nodeid", "")) if sort_tests else run.records
    checked = run.checked()
    all_gl = [item for record in checked for item in gl_leaks(record.findings)]
    all_images = [item for record in checked for item in image_leaks(record.findings)]
    sites = creation_sites(checked)
    verdicts = [_verdict(record) for record in checked]
    summary = {
        "tests_run": len(run.records),
        "tests_checked": len(checked),
        "tests_leaked": verdicts.count("leaked"),
        "tests_grew": verdicts.count("grew"),
        "tests_known": verdicts.count("known"),
        "tests_clean": verdicts.count("clean"),
        "leaked_gl_objects": len(all_gl),
        "leaked_gl_by_kind": _counts_by_kind(all_gl, GL_KINDS),
        "gpu_bytes_leaked": _bytes_sum(all_gl),
        "leaked_image_buffers": sum(leak_count(item) for item in all_images),
        "image_bytes_leaked": _bytes_sum(all_images),
        "partial": run.partial,
        "crashed": run.crashed,
        "internal_errors": run.internal_errors,
        "top_sites": [_site_json(site) for site in sites[:TOP_SITES]],
    }
    sequence = []
    for record in run.records:
        point: dict[str, Any] = {
            "nodeid": record.findings.get("nodeid", ""),
            "gl_leaked": len(gl_leaks(record.findings)),
            "images_leaked": sum(leak_count(item) for item in image_leaks(record.findings)),
        }
        memory = record.findings.get("memory") or {}
        for figure in ("per_iteration", "rss", "heap"):
            if figure in memory:
                point[figure] = int(memory[figure])
        if record.process_rss is not None:
            point["process_rss"] = int(record.process_rss)
        if record.worker is not None:
            point["worker"] = record.worker
        sequence.append(point)
    return {
        "version": FINDINGS_VERSION,
        "tool": "pytest-glleak",
        "environment": json.loads(json.dumps(run.environment, default=str)),
        "summary": summary,
        "tests": [json_test_entry(record, process_local) for record in records],
        "sites": [_site_json(site) for site in sites],
        "sequence": sequence,
    }


def dumps(doc: Mapping[str, Any]) -> str:
    """The canonical text of a report document: sorted keys, two-space indent, trailing newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically (an interrupted write leaves the previous file intact)."""
    write_text_atomic(path, dumps(doc))


# --- JUnit ----------------------------------------------------------------------------------------
_JUNIT_MEMORY_NAMES = {
    figure: "glleak_growth_per_iteration" if figure == "per_iteration" else f"glleak_{figure}_growth"
    for figure in MEMORY_FIGURES
}


def junit_properties(findings: TestFindings) -> list[tuple[str, str | int | float]]:
    """The per-test figures for ``report.user_properties`` (JUnit ``<property>`` elements).

    Names start with ``glleak_``: ``verdict``, ``checks``; with the GL check ``gl_created``,
    ``gl_deleted``, ``gl_leaked``, ``gl_leaked_bytes`` and ``gl_leaked_<kind>`` per leaked kind; with the
    image check ``images_leaked``, ``images_leaked_bytes``; memory figures as ``<figure>_growth``
    (``rss_growth``, ``heap_growth``...), ``growth_per_iteration``, ``growth_limit``; ``known`` notes count.
    """
    properties: list[tuple[str, str | int | float]] = []
    if "verdict" in findings:
        properties.append(("glleak_verdict", findings["verdict"]))
    if findings.get("checks"):
        properties.append(("glleak_checks", ",".join(findings["checks"])))
    if "gl" in findings:
        gl_section = findings["gl"]
        leaked = gl_section.get("leaked") or []
        properties.append(("glleak_gl_created", sum((gl_section.get("created") or {}).values())))
        properties.append(("glleak_gl_deleted", sum((gl_section.get("deleted") or {}).values())))
        properties.append(("glleak_gl_leaked", len(leaked)))
        properties.append(("glleak_gl_leaked_bytes", _bytes_sum(leaked)))
        for kind, count in _counts_by_kind(leaked, GL_KINDS).items():
            properties.append((f"glleak_gl_leaked_{kind}", count))
    if "images" in findings:
        images = findings["images"].get("leaked") or []
        properties.append(("glleak_images_leaked", sum(leak_count(item) for item in images)))
        properties.append(("glleak_images_leaked_bytes", _bytes_sum(images)))
    memory = findings.get("memory")
    if memory:
        figures: Mapping[str, Any] = dict(memory)
        for figure in MEMORY_FIGURES:
            if figure in figures:
                properties.append((_JUNIT_MEMORY_NAMES[figure], int(figures[figure])))
        if "limit" in memory:
            properties.append(("glleak_growth_limit", int(memory["limit"])))
    if findings.get("known"):
        properties.append(("glleak_known", len(findings["known"])))
    return properties
