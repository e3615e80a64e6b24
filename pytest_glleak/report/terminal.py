"""The ``--glleak-report`` terminal section: one entry per notable test, totals, top creation sites.

Plain lines for the collector to print; no pytest imports.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_glleak.report.run import (
    RunRecord,
    RunReport,
    bytes_sum,
    gl_leaks,
    image_leaks,
    is_reportable,
    leak_count,
    verdict_of,
)
from pytest_glleak.report.sites import TOP_SITES, creation_sites, kind_totals, site_sentence
from pytest_glleak.report.text import CLEAN, CRASHED, STATUS_WORDS, count_phrase, format_bytes, kinds_text

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
        return CRASHED
    if record.flaky_leak:
        return "FLAKY"
    word = STATUS_WORDS.get(verdict_of(record) or "", record.outcome)
    if word == CLEAN and record.outcome in ("failed", "error"):
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
            format_bytes(bytes_sum(gl_items)) if gl_items else "-",
            str(sum(leak_count(item) for item in images)) if "images" in findings else "-",
            format_bytes(bytes_sum(images)) if images else "-",
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


def flaky_lines(record: RunRecord) -> list[str]:
    """What each earlier attempt of a rerun test found, when one leaked or grew (a flaky leak)."""
    if not record.flaky_leak:
        return []
    total = len(record.attempts) + 1
    return [
        f"flaky leak: attempt {number} of {total} {attempt.findings.get('message') or verdict_of(attempt)}"
        for number, attempt in enumerate(record.attempts, 1)
        if verdict_of(attempt) in ("leaked", "grew")
    ]


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
        word: sum(1 for record in checked if verdict_of(record) == word)
        for word in ("leaked", "grew", "known", "clean")
    }
    summary = (
        f"{count_phrase(len(checked), 'test')} checked: {counts['leaked']} leaked, "
        f"{counts['grew']} grew, {counts['known']} within the baseline, {counts['clean']} clean"
    )
    crashed = run.crashed
    if crashed:
        summary += f"; {len(crashed)} crashed"
    if run.flaky_leaks:
        summary += f"; {len(run.flaky_leaks)} flaky leak{'s' if len(run.flaky_leaks) != 1 else ''}"
    lines.append(summary)
    shown = [
        record
        for record in run.records
        if record.outcome == "crashed"
        or (record.findings.get("checks") and (verbose or is_reportable(record)))
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
        for text in flaky_lines(record):
            lines.extend(_wrap(text, width, _INDENT, _INDENT + "  "))
    all_gl = [item for record in checked for item in gl_leaks(record.findings)]
    all_images = [item for record in checked for item in image_leaks(record.findings)]
    totals = _row(
        [
            str(len(all_gl)),
            format_bytes(bytes_sum(all_gl)),
            str(sum(leak_count(item) for item in all_images)),
            format_bytes(bytes_sum(all_images)),
            "",
            "",
        ]
    ).rstrip()
    lines.append("total" + totals[5:])
    sites = creation_sites(checked)
    if sites:
        totals_by_kind = kind_totals(sites)
        listed = sites if verbose else sites[:TOP_SITES]
        lines.append("")
        lines.append("Top creation sites:" if len(listed) < len(sites) else "Creation sites:")
        for site in listed:
            lines.extend(_wrap(site_sentence(site, totals_by_kind[site["kind"]]), width, "  ", "    "))
        if len(listed) < len(sites):
            lines.append(f"  ... and {len(sites) - len(listed)} more sites (-v lists all; see --glleak-json)")
    return lines
