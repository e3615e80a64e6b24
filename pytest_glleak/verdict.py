"""The one place that decides: what a test's checks found, turned into its verdict, and a test's outcome.

Pure logic, no pytest: the worker calls :func:`decide` after a test's teardown, the controller calls
:func:`outcome_of` on the reports it logs. Inputs and outputs are the plain data of
:mod:`pytest_glleak.findings`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal, Protocol

from pytest_glleak.findings import FAILING_VERDICTS, LeakedGLObject, LeakedImage, TestFindings, Verdict
from pytest_glleak.report.gl_text import format_gl_leaks
from pytest_glleak.report.image_text import format_image_leaks
from pytest_glleak.report.run import leak_count
from pytest_glleak.report.text import count_phrase, format_bytes_spelled, kind_phrase

#: Verdicts that fail a test that otherwise passed.
FAILING: tuple[Verdict, ...] = FAILING_VERDICTS

#: What one test ended as, in the JSON report.
Outcome = Literal["passed", "failed", "leaked", "skipped", "error", "known", "crashed"]

RECORDED = "recorded into the known-leak baseline (--glleak-baseline-update)"


class BaselineComparison(Protocol):
    """What :func:`decide` needs of a baseline's comparison of one test."""

    @property
    def known(self) -> tuple[str, ...]: ...

    @property
    def regressions(self) -> tuple[str, ...]: ...


class Baseline(Protocol):
    """What :func:`decide` needs of the known-leak baseline."""

    def compare(self, findings: TestFindings) -> BaselineComparison: ...


@dataclasses.dataclass(frozen=True)
class Growth:
    """A ``max_memory_growth`` measurement: the rule's answer and the table's text."""

    grew: bool
    per_iteration: int
    limit: int
    table: list[dict[str, int]]
    text: str


@dataclasses.dataclass(frozen=True)
class Decision:
    """A test's findings with their verdict, and the failure text (empty when it does not fail)."""

    findings: TestFindings
    text: str

    @property
    def verdict(self) -> Verdict:
        """The verdict set by :func:`decide`."""
        return self.findings.get("verdict", "clean")

    @property
    def failing(self) -> bool:
        """Whether the verdict fails a test that otherwise passed."""
        return self.verdict in FAILING


def decide(
    findings: TestFindings,
    growth: Growth | None,
    baseline: Baseline | None = None,
    recording: bool = False,
) -> Decision:
    """The verdict of one test from what its checks found.

    ``findings`` carries the checked sections (``gl``, ``images``) and ``checks``; ``growth`` the
    ``max_memory_growth`` measurement, if any. ``recording`` (``--glleak-baseline-update``) accepts every
    leak; otherwise leaks within ``baseline`` are *known*, anything else *leaked*, growth alone *grew*.
    """
    gl_leaks: list[LeakedGLObject] = findings["gl"]["leaked"] if "gl" in findings else []
    image_leaks: list[LeakedImage] = findings["images"]["leaked"] if "images" in findings else []
    grew = growth is not None and growth.grew
    found = bool(gl_leaks or image_leaks or grew)
    if recording and found:
        findings["verdict"] = "known"
        findings["message"] = RECORDED
        findings["known"] = [RECORDED]
        return Decision(findings, "")
    texts: list[str] = []
    if baseline is not None:
        comparison = baseline.compare(findings)
        if comparison.known:
            findings["known"] = list(comparison.known)
        if not comparison.regressions and found:
            findings["verdict"] = "known"
            findings["message"] = "leaks within the known-leak baseline: " + "; ".join(comparison.known)
            return Decision(findings, "")
        if comparison.regressions:
            texts.append(
                "Regressions against the known-leak baseline:\n  " + "\n  ".join(comparison.regressions)
            )
    summary: list[str] = []
    if gl_leaks:
        summary.append(_count_phrase(gl_leaks, "GL object"))
        texts.append(format_gl_leaks(gl_leaks))
    if image_leaks:
        summary.append(_count_phrase(image_leaks, "image buffer"))
        texts.append(format_image_leaks(image_leaks))
    if grew and growth is not None:
        summary.append(f"memory grew {format_bytes_spelled(growth.per_iteration)} per repetition")
        texts.append(growth.text)
    if not summary:
        findings["verdict"] = "clean"
        return Decision(findings, "")
    findings["verdict"] = "leaked" if (gl_leaks or image_leaks) else "grew"
    findings["message"] = "leaked " + ", ".join(summary) if (gl_leaks or image_leaks) else summary[0]
    return Decision(findings, "\n\n".join(texts))


def outcome_of(
    before_teardown: str, verdict: str | None, failed_by_check: bool, teardown_failed: bool
) -> Outcome:
    """A test's outcome in the report, from what pytest said of its setup and call (``passed``,
    ``failed``, ``skipped`` or ``error``), its verdict, and its teardown report."""
    if failed_by_check:
        return "leaked"
    if teardown_failed:
        return "error"
    if verdict == "known" and before_teardown == "passed":
        return "known"
    return _BEFORE_TEARDOWN.get(before_teardown, "error")


_BEFORE_TEARDOWN: dict[str, Outcome] = {
    "passed": "passed",
    "failed": "failed",
    "skipped": "skipped",
    "error": "error",
}


def _count_phrase(items: Sequence[Any], noun: str) -> str:
    # In people's words ("1 Pillow image", "2 NumPy arrays", "3 textures"); Pillow block counters
    # count as the blocks they stand for.
    by_kind: dict[str, int] = {}
    for entry in items:
        by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0) + leak_count(entry)
    parts = [kind_phrase(kind, count) for kind, count in by_kind.items()]
    return ", ".join(parts) if parts else count_phrase(0, noun)
