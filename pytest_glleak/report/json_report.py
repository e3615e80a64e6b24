"""The ``--glleak-json`` document: build it from a run, its canonical text, and the atomic write.

Nothing in ``tests`` depends on the process a test ran in (see :func:`build_json`); the schema is
``tests/glleak_report.schema.json``. No pytest imports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_glleak import __version__
from pytest_glleak.findings import FINDINGS_VERSION, GL_KINDS
from pytest_glleak.report.atomic import write_text_atomic
from pytest_glleak.report.run import (
    IMAGE_KINDS,
    RunRecord,
    RunReport,
    bytes_sum,
    counts_by_kind,
    gl_leaks,
    image_leaks,
    leak_count,
    verdict_of,
)
from pytest_glleak.report.sites import TOP_SITES, UNKNOWN_FILE, creation_sites, site_text


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
        "unconfirmed": bool(item.get("unconfirmed", False)),
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
    entry = _entry(record, process_local)
    fixture = record.findings.get("fixture")
    if fixture is not None:
        entry["fixture"] = {"name": fixture["name"], "scope": fixture["scope"], "where": fixture["where"]}
    entry["flaky_leak"] = record.flaky_leak
    entry["attempts"] = [
        {**_entry(attempt, process_local), "flaky_leak": False, "attempts": []} for attempt in record.attempts
    ]
    return entry


def _entry(record: RunRecord, process_local: bool) -> dict[str, Any]:
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
        "gl_unhooked": {str(k): int(v) for k, v in (findings.get("gl_unhooked") or {}).items()},
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
    verdicts = [verdict_of(record) for record in checked]
    summary = {
        "tests_run": len(run.records),
        "tests_checked": len(checked),
        "tests_leaked": verdicts.count("leaked"),
        "tests_grew": verdicts.count("grew"),
        "tests_known": verdicts.count("known"),
        "tests_clean": verdicts.count("clean"),
        "tests_flaky_leak": len(run.flaky_leaks),
        "leaked_gl_objects": len(all_gl),
        "leaked_gl_by_kind": counts_by_kind(all_gl, GL_KINDS),
        "gpu_bytes_leaked": bytes_sum(all_gl),
        "leaked_image_buffers": sum(leak_count(item) for item in all_images),
        "image_bytes_leaked": bytes_sum(all_images),
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
        "created": run.created,
        "plugin_version": __version__,
        "pytest_version": run.pytest_version,
        "args": [str(arg) for arg in run.args],
        "duration_s": round(float(run.duration_s), 3),
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
