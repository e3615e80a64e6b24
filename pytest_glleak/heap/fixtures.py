"""Images a wider-scoped fixture leaves alive: what it (or a thread it started) made, still alive once
the fixture is finalized, as findings.

Called through :meth:`ImageTracker.fixture_leaks <pytest_glleak.heap.tracker.ImageTracker.fixture_leaks>`
after pytest has dropped the fixture's value. No pytest imports.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from pytest_glleak import sites
from pytest_glleak.findings import LeakedImage
from pytest_glleak.heap.holders import ReferrerScans
from pytest_glleak.heap.records import TrackedBuffer
from pytest_glleak.heap.suspects import describe_holders, live_cores, suspects_of


def fixture_leaks(
    records: Callable[[], list[TrackedBuffer]], owner: str, min_bytes: int, stack_depth: int
) -> list[LeakedImage]:
    """Findings for the live ``records()`` recorded under phase ``owner`` or ``"<owner> thread"``.

    Each finding's phase is ``setup`` (made by the fixture's set-up) or ``thread``. Clean path: one walk
    over the records, no garbage collection.
    """
    if not owned(records(), owner, min_bytes):
        return []
    gc.collect()
    found = owned(records(), owner, min_bytes)
    if not found:
        return []
    scans = ReferrerScans()
    suspects = suspects_of(
        found,
        {},
        0,
        min_bytes,
        stack_depth=stack_depth,
        scans=scans,
        known_cores=lambda: live_cores(records()),
    )
    describe_holders(suspects, scans)
    findings = []
    for suspect in suspects:
        record = suspect.record
        made_by_thread = record is not None and record.phase != owner
        suspect.finding["phase"] = "thread" if made_by_thread else "setup"
        findings.append(suspect.finding)
    suspects.clear()
    return findings


def owned(records: list[TrackedBuffer], owner: str, min_bytes: int) -> list[TrackedBuffer]:
    """The live ``records`` ``owner`` made (or its threads), oldest first: images, and arrays of
    ``min_bytes`` or more, not made while a module was imported."""
    thread_phase = f"{owner} thread"
    found = []
    for record in records:
        if record.phase != owner and record.phase != thread_phase:
            continue
        if record.ref() is None or (record.kind == "ndarray" and record.nbytes < min_bytes):
            continue
        if sites.made_at_import(record.site):
            continue
        found.append(record)
    found.sort(key=lambda record: record.seq)
    return found
