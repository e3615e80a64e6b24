"""The data of a whole run: one record per finished test, its outcome, and where the run happened.

Plain data and accessors over the shapes of :mod:`pytest_glleak.findings`; no pytest imports. The
collector feeds a :class:`RunReport` from the teardown reports (on the xdist controller when there is
one); the terminal, JSON and HTML reports read it.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_glleak.findings import (
    REPORTED_VERDICTS,
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


def counts_by_kind(items: Iterable[Mapping[str, Any]], order: Sequence[str] = ()) -> dict[str, int]:
    """Leaks per kind (Pillow block counters count as many), the kinds in ``order`` first."""
    counts: dict[str, int] = {}
    for item in items:
        kind = str(item.get("kind", "?"))
        counts[kind] = counts.get(kind, 0) + leak_count(item)
    ranked = {kind: counts[kind] for kind in order if kind in counts}
    ranked.update({kind: counts[kind] for kind in sorted(counts) if kind not in ranked})
    return ranked


def bytes_sum(items: Iterable[Mapping[str, Any]]) -> int:
    """The estimated bytes of leaked items."""
    return sum(int(item.get("bytes", 0) or 0) for item in items)


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


def utc_now() -> str:
    """The current time as the reports write it: UTC, ISO 8601, whole seconds (``2026-11-30T06:15:19Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the run --------------------------------------------------------------------------------------
@dataclasses.dataclass(slots=True)
class RunRecord:
    """One test of the run: its findings, its outcome, and the process RSS after it (when sampled)."""

    findings: TestFindings
    outcome: str
    process_rss: int | None = None
    worker: str | None = None
    #: The earlier attempts of a rerun test (pytest-rerunfailures), oldest first; empty otherwise.
    attempts: list[RunRecord] = dataclasses.field(default_factory=list)

    @property
    def flaky_leak(self) -> bool:
        """An earlier attempt leaked or grew, and the last one did not: still a leak, and it gates."""
        from pytest_glleak.findings import FAILING_VERDICTS

        return verdict_of(self) not in FAILING_VERDICTS and any(
            verdict_of(attempt) in FAILING_VERDICTS for attempt in self.attempts
        )


class RunReport:
    """The findings of a whole run, in the order tests finished.

    ``environment`` describes where it ran (see :func:`collect_environment`); ``partial`` is set when
    the run was interrupted; :meth:`mark_crashed` records a test whose worker died. ``created`` (UTC,
    ISO 8601, when the run started), ``duration_s``, ``args`` (the pytest command line) and
    ``pytest_version`` head the JSON report and the HTML page.
    """

    def __init__(self, environment: Mapping[str, Any] | None = None) -> None:
        self.records: list[RunRecord] = []
        self.environment: dict[str, Any] = dict(environment or {})
        self.partial = False
        self.created = utc_now()
        self.duration_s = 0.0
        self.args: list[str] = []
        self.pytest_version: str | None = None
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
        """Record one test. A second record for the same node id (a rerun) becomes the test's record,
        the earlier ones its ``attempts``: every attempt's findings are kept.

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
            earlier = self.records[self._index[nodeid]]
            record.attempts = [*earlier.attempts, dataclasses.replace(earlier, attempts=[])]
            self.records[self._index[nodeid]] = record
        else:
            self._index[nodeid] = len(self.records)
            self.records.append(record)

    def replace(self, findings: TestFindings, outcome: str, worker: str | None = None) -> None:
        """Record ``findings`` in place of any earlier record of its node id (not as a new attempt)."""
        nodeid = findings.get("nodeid", "")
        index = self._index.pop(nodeid, None)
        if index is not None:
            del self.records[index]
            self._index = {record.findings["nodeid"]: i for i, record in enumerate(self.records)}
        self.add(findings, outcome, worker=worker)

    def get(self, nodeid: str) -> RunRecord | None:
        """The record of ``nodeid``, or None."""
        index = self._index.get(nodeid)
        return None if index is None else self.records[index]

    def mark_crashed(self, nodeid: str, worker: str | None = None) -> None:
        """Record that ``nodeid`` was running when its worker process crashed (it has no findings)."""
        self.add({"nodeid": nodeid}, "crashed", worker=worker)

    @property
    def crashed(self) -> list[str]:
        """Node ids of the tests whose worker crashed, in run order."""
        return [record.findings["nodeid"] for record in self.records if record.outcome == "crashed"]

    @property
    def flaky_leaks(self) -> list[RunRecord]:
        """Records of tests that leaked or grew on an earlier attempt and not on the last one."""
        return [record for record in self.records if record.flaky_leak]

    def checked(self) -> list[RunRecord]:
        """The records of tests on which at least one check ran."""
        return [record for record in self.records if record.findings.get("checks")]


def verdict_of(record: RunRecord) -> str | None:
    """The verdict of a record's findings; None when no check ran."""
    return record.findings.get("verdict")


def is_reportable(record: RunRecord) -> bool:
    """Whether the report lists the test without ``-v``: it leaked, grew, matched the baseline, crashed,
    or leaked on an earlier attempt (a flaky leak)."""
    return record.outcome == "crashed" or verdict_of(record) in REPORTED_VERDICTS or record.flaky_leak
