"""Where leaks were created, across the suite: portable paths, frame text, leaks grouped by site.

The capture of creation sites is :mod:`pytest_glleak.sites`; this module aggregates the captured frames
of a whole run for the terminal section, the JSON ``sites`` list and the HTML page. No pytest imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_glleak.findings import Frame
from pytest_glleak.report.run import RunRecord, gl_leaks, image_leaks, leak_count
from pytest_glleak.report.text import count_phrase, format_bytes, kind_phrase
from pytest_glleak.sites import frame_text

#: How many creation sites ``summary.top_sites`` and the terminal section list.
TOP_SITES = 10

UNKNOWN_FILE = "<unknown>"


def site_text(frames: Sequence[Frame] | None) -> str:
    """The innermost frame as ``"viewer/render.py:88 in upload()"``; ``"<unknown site>"`` when empty.

    Paths are shown as they travel: the runner made them rootdir-relative (:func:`portable_path`) once,
    in the process that ran the test.
    """
    if not frames or frames[0].get("file", UNKNOWN_FILE) == UNKNOWN_FILE:
        return "<unknown site>"
    return frame_text(frames[0])


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
    by = f"by {count_phrase(tests, 'test')}"
    sentence = f"{kind_phrase(site['kind'], count)} leaked, {share} {where}, {by}"
    if site.get("bytes"):
        sentence += f" ({format_bytes(site['bytes'])} estimated)"
    return sentence


def kind_totals(sites: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for site in sites:
        totals[site["kind"]] = totals.get(site["kind"], 0) + int(site["count"])
    return totals
