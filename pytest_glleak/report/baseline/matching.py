"""The :class:`Baseline` and how one test's findings match it: known leaks, regressions, growth sites."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pytest_glleak.findings import TestFindings
from pytest_glleak.report.baseline.entries import (
    BASELINE_FORMAT,
    BASELINE_VERSION,
    DEFAULT_TOLERANCE,
    BaselineEntry,
    BaselineVerdict,
    moved_key,
    site_key,
    site_shown,
)
from pytest_glleak.report.run import gl_leaks, image_leaks, leak_count
from pytest_glleak.report.text import kind_phrase


def leak_counts(findings: Mapping[str, Any], root: str | None = None) -> dict[tuple[str, str], int]:
    """(kind, site) -> count of the leaked GL objects and image buffers in one test's findings."""
    counts: dict[tuple[str, str], int] = {}
    items: list[Mapping[str, Any]] = [*gl_leaks(findings), *image_leaks(findings)]
    for item in items:
        key = (str(item.get("kind", "?")), site_key(item.get("create_site"), root))
        counts[key] = counts.get(key, 0) + leak_count(item)
    return counts


def grew(memory: Mapping[str, Any]) -> bool:
    if "per_iteration" not in memory or "limit" not in memory:
        return False
    return int(memory["per_iteration"]) > int(memory["limit"])


def growth_sites(memory: Mapping[str, Any], root: str | None = None) -> dict[tuple[str, str], int]:
    """(what, site) -> bytes per repetition, from a growth diagnosis (``grew_at``, ``gl_per_iteration``,
    ``images_per_iteration``); ``what`` is ``python``/``numpy``, a GL kind or an image kind."""
    found: dict[tuple[str, str], int] = {}
    for site in memory.get("grew_at") or []:
        key = (str(site.get("domain", "python")), site_key(site.get("stack") or [site], root))
        found[key] = found.get(key, 0) + int(site.get("bytes_per_iteration", 0))
    for row in [*(memory.get("gl_per_iteration") or []), *(memory.get("images_per_iteration") or [])]:
        key = (str(row.get("kind", "?")), site_key(row.get("create_site"), root))
        found[key] = found.get(key, 0) + int(row.get("bytes", 0))
    return found


@dataclasses.dataclass
class Baseline:
    """The accepted leaks of a suite: node id -> :class:`BaselineEntry`."""

    entries: dict[str, BaselineEntry] = dataclasses.field(default_factory=dict)
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)
    tolerance: float = DEFAULT_TOLERANCE
    path: str | None = None
    #: The directory creation-site paths are relative to (the pytest rootdir); None: the working directory.
    root: str | None = None

    def compare(self, findings: TestFindings) -> BaselineVerdict:
        """Compare one test's findings (before their verdict is set) with its entry."""
        nodeid = findings.get("nodeid", "")
        entry = self.entries.get(nodeid, BaselineEntry())
        known: list[str] = []
        regressions: list[str] = []
        remaining = {(leak.kind, leak.site): leak.count for leak in entry.leaks}
        unmatched: list[tuple[str, str, int]] = []
        for (kind, site), count in sorted(leak_counts(findings, self.root).items()):
            allowed = remaining.pop((kind, site), None)
            if allowed is None:
                unmatched.append((kind, site, count))
            else:
                self._judge(kind, site, count, allowed, "", known, regressions)
        for kind, site, count in unmatched:
            moved = moved_key(site)
            candidates = [
                key for key in sorted(remaining) if key[0] == kind and moved and moved_key(key[1]) == moved
            ]
            if candidates:
                recorded_site = candidates[0]
                allowed = remaining.pop(recorded_site)
                note = f" (recorded at {site_shown(recorded_site[1])}; the line moved)"
                self._judge(kind, site, count, allowed, note, known, regressions)
            elif nodeid not in self.entries:
                regressions.append(
                    f"new leak: {kind_phrase(kind, count)} created at {site_shown(site)} "
                    "(this test has no baseline entry)"
                )
            else:
                regressions.append(
                    f"new site: {kind_phrase(kind, count)} created at {site_shown(site)} "
                    "(not a known leak site of this test)"
                )
        self._compare_memory(findings.get("memory") or {}, entry, known, regressions)
        return BaselineVerdict(known=tuple(known), regressions=tuple(regressions))

    @staticmethod
    def _judge(
        kind: str, site: str, count: int, allowed: int, note: str, known: list[str], regressions: list[str]
    ) -> None:
        phrase = f"{kind_phrase(kind, count)} created at {site_shown(site)}"
        if count <= allowed:
            known.append(f"{phrase}: known leak (baseline allows {allowed}){note}")
        else:
            regressions.append(f"higher count: {phrase}, the baseline allows {allowed}{note}")

    def _compare_memory(
        self, memory: Mapping[str, Any], entry: BaselineEntry, known: list[str], regressions: list[str]
    ) -> None:
        percent = f"{self.tolerance:.0%}"
        for figure, recorded in sorted(entry.memory.items()):
            if figure not in memory or figure == "limit":
                continue
            value = int(memory[figure])
            ceiling = recorded * (1 + self.tolerance)
            if value > ceiling:
                regressions.append(
                    f"memory {figure}: {value:,} bytes, more than {percent} above the baseline's {recorded:,}"
                )
            elif figure != "per_iteration" or grew(memory):
                known.append(
                    f"memory {figure}: {value:,} bytes, within {percent} of the baseline's {recorded:,}"
                )
        if grew(memory) and entry.grew_at:
            self._compare_growth_sites(memory, entry, known, regressions)
        if grew(memory) and "per_iteration" not in entry.memory:
            regressions.append(
                f"memory growth: {int(memory['per_iteration']):,} bytes per repetition over the limit "
                f"{int(memory['limit']):,} is not in the baseline"
            )

    def _compare_growth_sites(
        self, memory: Mapping[str, Any], entry: BaselineEntry, known: list[str], regressions: list[str]
    ) -> None:
        percent = f"{self.tolerance:.0%}"
        recorded = {(growth.what, growth.site): growth.bytes_per_iteration for growth in entry.grew_at}
        for (what, site), value in sorted(growth_sites(memory, self.root).items()):
            allowed = recorded.get((what, site))
            note = ""
            if allowed is None:
                moved = moved_key(site)
                candidates = [
                    key for key in sorted(recorded) if key[0] == what and moved and moved_key(key[1]) == moved
                ]
                if candidates:
                    allowed = recorded[candidates[0]]
                    note = f" (recorded at {site_shown(candidates[0][1])}; the line moved)"
            shown = f"{what} growth at {site_shown(site)}: {value:,} bytes per repetition"
            if allowed is None:
                regressions.append(
                    f"memory grew at a new site: {shown} (not a known growth site of this test)"
                )
            elif value > allowed * (1 + self.tolerance):
                regressions.append(f"{shown}, more than {percent} above the baseline's {allowed:,}{note}")
            else:
                known.append(f"{shown}: known growth site (baseline allows {allowed:,}){note}")

    def to_json(self) -> dict[str, Any]:
        """The whole file as a JSON document."""
        return {
            "format": BASELINE_FORMAT,
            "format_version": BASELINE_VERSION,
            "environment": {key: self.environment[key] for key in sorted(self.environment)},
            "tests": {nodeid: self.entries[nodeid].to_json() for nodeid in sorted(self.entries)},
        }
