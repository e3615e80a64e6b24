"""``--glleak-baseline-update``: the baseline rewritten from a run, and the list of what changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytest_glleak.findings import TestFindings
from pytest_glleak.report.baseline.entries import (
    DEFAULT_TOLERANCE,
    ENVIRONMENT_KEYS,
    BaselineEntry,
    KnownGrowth,
    KnownLeak,
    site_shown,
)
from pytest_glleak.report.baseline.matching import Baseline, grew, growth_sites, leak_counts
from pytest_glleak.report.text import kind_phrase


def _entry_from(findings: Mapping[str, Any], root: str | None) -> BaselineEntry | None:
    leaks = tuple(
        KnownLeak(kind=kind, site=site, count=count)
        for (kind, site), count in sorted(leak_counts(findings, root).items())
    )
    memory_section = findings.get("memory") or {}
    grown = grew(memory_section)
    memory = {"per_iteration": int(memory_section["per_iteration"])} if grown else {}
    grew_at = tuple(
        KnownGrowth(what=what, site=site, bytes_per_iteration=amount)
        for (what, site), amount in sorted(growth_sites(memory_section, root).items())
        if grown
    )
    if not leaks and not memory:
        return None
    return BaselineEntry(leaks=leaks, memory=memory, grew_at=grew_at)


def _describe(entry: BaselineEntry) -> str:
    parts = [f"{kind_phrase(leak.kind, leak.count)} at {site_shown(leak.site)}" for leak in entry.leaks]
    parts.extend(f"memory {figure} {value:,}" for figure, value in sorted(entry.memory.items()))
    parts.extend(
        f"{growth.what} growth {growth.bytes_per_iteration:,} at {site_shown(growth.site)}"
        for growth in entry.grew_at
    )
    return ", ".join(parts)


def _entry_changes(nodeid: str, old: BaselineEntry, new: BaselineEntry) -> list[str]:
    lines: list[str] = []
    old_leaks = {(leak.kind, leak.site): leak.count for leak in old.leaks}
    new_leaks = {(leak.kind, leak.site): leak.count for leak in new.leaks}
    for key in sorted(set(old_leaks) | set(new_leaks)):
        kind, site = key
        before, after = old_leaks.get(key), new_leaks.get(key)
        if before == after:
            continue
        if before is None:
            lines.append(f"changed {nodeid}: + {kind_phrase(kind, after or 0)} at {site_shown(site)}")
        elif after is None:
            lines.append(f"changed {nodeid}: - {kind_phrase(kind, before)} at {site_shown(site)} (fixed)")
        else:
            lines.append(f"changed {nodeid}: {kind} at {site_shown(site)} {before} -> {after}")
    for figure in sorted(set(old.memory) | set(new.memory)):
        before_value, after_value = old.memory.get(figure), new.memory.get(figure)
        if before_value != after_value:
            lines.append(f"changed {nodeid}: memory {figure} {before_value} -> {after_value}")
    old_growth = {(growth.what, growth.site): growth.bytes_per_iteration for growth in old.grew_at}
    new_growth = {(growth.what, growth.site): growth.bytes_per_iteration for growth in new.grew_at}
    for what, site in sorted(set(old_growth) | set(new_growth)):
        before_bytes, after_bytes = old_growth.get((what, site)), new_growth.get((what, site))
        if before_bytes != after_bytes:
            lines.append(
                f"changed {nodeid}: {what} growth at {site_shown(site)} {before_bytes} -> {after_bytes}"
            )
    return lines


def updated_baseline(
    old: Baseline | None,
    run_results: Iterable[TestFindings],
    ran_nodeids: Iterable[str],
    environment: Mapping[str, Any],
    root: str | None = None,
) -> tuple[Baseline, list[str]]:
    """The baseline rewritten from this run, and the human-readable list of what changed.

    ``run_results``: the findings of the tests checked in this run; ``ran_nodeids``: every test that
    ran to completion (checked or not; leave out crashed tests). Entries of tests that did not run
    (``-k``, deselected, crashed) are kept; tests that ran without leaks or growth lose their entry.
    Leave skipped tests out of ``ran_nodeids`` too, or their entries are dropped as "ran clean".
    ``root``: the pytest rootdir, for portable creation-site paths (default: the old baseline's root,
    else the working directory).
    """
    if root is None and old is not None:
        root = old.root
    previous = old.entries if old is not None else {}
    ran = set(ran_nodeids)
    found: dict[str, BaselineEntry] = {}
    for findings in run_results:
        nodeid = findings.get("nodeid", "")
        ran.add(nodeid)
        entry = _entry_from(findings, root)
        if entry is not None:
            found[nodeid] = entry
    entries: dict[str, BaselineEntry] = {}
    changes: list[str] = []
    kept = 0
    for nodeid in sorted(set(previous) | set(found)):
        before, after = previous.get(nodeid), found.get(nodeid)
        if nodeid not in ran:
            assert before is not None
            entries[nodeid] = before
            kept += 1
        elif after is None:
            assert before is not None
            changes.append(f"removed {nodeid} (ran clean)")
        else:
            entries[nodeid] = after
            if before is None:
                changes.append(f"added {nodeid}: {_describe(after)}")
            else:
                changes.extend(_entry_changes(nodeid, before, after))
    if kept:
        changes.append(f"kept {kept} entr{'y' if kept == 1 else 'ies'} of tests that did not run")
    recorded = {key: environment[key] for key in ENVIRONMENT_KEYS if key in environment}
    tolerance = old.tolerance if old is not None else DEFAULT_TOLERANCE
    path = old.path if old is not None else None
    return Baseline(entries=entries, environment=recorded, tolerance=tolerance, path=path, root=root), changes
