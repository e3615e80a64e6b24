"""Compare two ``--glleak-json`` documents: new, fixed and changed leaks and memory growth, by test.

Pure logic, no pytest. Leaks are matched as the known-leak baseline matches them
(:mod:`pytest_glleak.report.baseline`): per test, by (kind, innermost creation site
``file:line in function``),
and a site whose line moved by (kind, file, function). Growth figures are compared within a relative
tolerance. A regression (a new leak, a higher count, new growth, growth above the old figure beyond
the tolerance) makes ``python -m pytest_glleak compare`` exit with 1.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any, Literal

from pytest_glleak.report.baseline import DEFAULT_TOLERANCE, grew, leak_counts, moved_key, site_shown
from pytest_glleak.report.locations import nodeid_file
from pytest_glleak.report.text import kind_phrase

Category = Literal["regression", "fixed", "changed"]

#: Outcomes of tests that did not really run; their findings are not compared.
NOT_RUN = ("skipped", "crashed")


class ReportError(Exception):
    """A file that is not a readable pytest-glleak JSON report; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Change:
    """One difference between the runs, for one test."""

    nodeid: str
    category: Category
    text: str


@dataclasses.dataclass(frozen=True)
class Comparison:
    """Every difference between an old and a new run."""

    changes: tuple[Change, ...]
    compared: int
    not_in_new: tuple[str, ...] = ()
    tolerance: float = DEFAULT_TOLERANCE

    def of(self, category: Category) -> list[Change]:
        """The changes of one category, in test order."""
        return [change for change in self.changes if change.category == category]

    @property
    def regressed(self) -> bool:
        """True when the new run leaks or grows more than the old one."""
        return bool(self.of("regression"))


def load_report(path: str) -> dict[str, Any]:
    """Read a ``--glleak-json`` file; :class:`ReportError` says in one line why it cannot be used."""
    try:
        with open(path, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    problem = report_problem(doc)
    if problem is not None:
        raise ReportError(f"{path}: not a pytest-glleak JSON report ({problem})")
    return dict(doc)


def report_problem(doc: Any) -> str | None:
    """Why ``doc`` is not a pytest-glleak report document, or None when it is one."""
    if not isinstance(doc, dict):
        return "the top level is not an object"
    if doc.get("tool") != "pytest-glleak":
        return f"'tool' is {doc.get('tool')!r}, expected 'pytest-glleak'"
    tests = doc.get("tests")
    if not isinstance(tests, list):
        return "'tests' is missing or not a list"
    for index, test in enumerate(tests):
        if not isinstance(test, dict) or not isinstance(test.get("nodeid"), str):
            return f"tests[{index}] has no node id"
        for section in ("gl", "images"):
            block = test.get(section)
            if block is not None and not (isinstance(block, dict) and isinstance(block.get("leaked"), list)):
                return f"tests[{index}].{section} has no 'leaked' list"
        if test.get("memory") is not None and not isinstance(test.get("memory"), dict):
            return f"tests[{index}].memory is not an object"
    return None


def infer_root(doc: Mapping[str, Any]) -> str | None:
    """The rootdir of the run that wrote ``doc``, from creation-site frames in its test files.

    Frames carry absolute paths and node ids start at the rootdir, so a frame of
    ``/ci/checkout/tests/test_a.py`` in test ``tests/test_a.py::test_x`` puts the root at
    ``/ci/checkout``. None when no frame tells (then paths are taken relative to the working directory).
    """
    votes: collections.Counter[str] = collections.Counter()
    for test in doc.get("tests") or []:
        suffix = "/" + nodeid_file(str(test.get("nodeid", ""))).lstrip("/")
        for section in ("gl", "images"):
            for item in (test.get(section) or {}).get("leaked") or []:
                for frame in item.get("create_site") or []:
                    file = str(frame.get("file", "")).replace(os.sep, "/")
                    if os.path.isabs(file) and file.endswith(suffix) and len(file) > len(suffix):
                        votes[file[: -len(suffix)]] += 1
    return votes.most_common(1)[0][0] if votes else None


def _growth(test: Mapping[str, Any] | None) -> tuple[int, int] | None:
    memory = (test or {}).get("memory") or {}
    return (int(memory["per_iteration"]), int(memory["limit"])) if grew(memory) else None


def _leak_changes(
    nodeid: str, old: dict[tuple[str, str], int], new: dict[tuple[str, str], int]
) -> list[Change]:
    changes: list[Change] = []
    remaining = dict(old)
    unmatched: list[tuple[str, str, int]] = []
    for (kind, site), count in sorted(new.items()):
        before = remaining.pop((kind, site), None)
        if before is None:
            unmatched.append((kind, site, count))
        else:
            changes.extend(_count_change(nodeid, kind, site, before, count, ""))
    for kind, site, count in unmatched:
        moved = moved_key(site)
        candidates = [
            key for key in sorted(remaining) if key[0] == kind and moved and moved_key(key[1]) == moved
        ]
        if candidates:
            before = remaining.pop(candidates[0])
            note = f" (was at {site_shown(candidates[0][1])}; the line moved)"
            changes.extend(_count_change(nodeid, kind, site, before, count, note))
            if before == count:
                changes.append(
                    Change(
                        nodeid,
                        "changed",
                        f"moved: {kind_phrase(kind, count)} created at {site_shown(site)}{note}",
                    )
                )
        else:
            phrase = f"{kind_phrase(kind, count)} created at {site_shown(site)}"
            changes.append(Change(nodeid, "regression", f"new leak: {phrase}"))
    for (kind, site), before in sorted(remaining.items()):
        phrase = f"{kind_phrase(kind, before)} created at {site_shown(site)}"
        changes.append(Change(nodeid, "fixed", f"fixed: {phrase} no longer leak{'s' * (before == 1)}"))
    return changes


def _count_change(nodeid: str, kind: str, site: str, before: int, after: int, note: str) -> list[Change]:
    phrase = f"{kind} created at {site_shown(site)}"
    if after > before:
        return [Change(nodeid, "regression", f"higher count: {phrase}: {before} -> {after}{note}")]
    if after < before:
        return [Change(nodeid, "changed", f"lower count: {phrase}: {before} -> {after}{note}")]
    return []


def _growth_changes(
    nodeid: str, old: tuple[int, int] | None, new: tuple[int, int] | None, tolerance: float
) -> list[Change]:
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        text = f"new growth: {new[0]:,} bytes per repetition (limit {new[1]:,})"
        return [Change(nodeid, "regression", text)]
    if new is None:
        return [
            Change(nodeid, "fixed", f"fixed: memory no longer grows (was {old[0]:,} bytes per repetition)")
        ]
    percent = f"{tolerance:.0%}"
    if new[0] > old[0] * (1 + tolerance):
        text = f"more growth: {old[0]:,} -> {new[0]:,} bytes per repetition, more than {percent} above"
        return [Change(nodeid, "regression", text)]
    if new[0] * (1 + tolerance) < old[0]:
        return [Change(nodeid, "changed", f"less growth: {old[0]:,} -> {new[0]:,} bytes per repetition")]
    return []


def compare(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    tolerance: float = DEFAULT_TOLERANCE,
    old_root: str | None = None,
    new_root: str | None = None,
) -> Comparison:
    """Compare two report documents; roots default to :func:`infer_root` of each document."""
    old_root = old_root or infer_root(old)
    new_root = new_root or infer_root(new)
    old_tests = {str(test["nodeid"]): test for test in old.get("tests") or []}
    new_tests = {
        str(test["nodeid"]): test for test in new.get("tests") or [] if test.get("outcome") not in NOT_RUN
    }
    changes: list[Change] = []
    for nodeid in sorted(new_tests):
        before = old_tests.get(nodeid)
        if before is not None and before.get("outcome") in NOT_RUN:
            before = None
        after = new_tests[nodeid]
        old_counts = leak_counts(before, old_root) if before is not None else {}
        changes.extend(_leak_changes(nodeid, old_counts, leak_counts(after, new_root)))
        changes.extend(_growth_changes(nodeid, _growth(before), _growth(after), tolerance))
    not_in_new = tuple(
        sorted(
            nodeid
            for nodeid, test in old_tests.items()
            if nodeid not in new_tests and (leak_counts(test, old_root) or _growth(test))
        )
    )
    return Comparison(
        changes=tuple(changes), compared=len(new_tests), not_in_new=not_in_new, tolerance=tolerance
    )


_HEADINGS: tuple[tuple[Category, str], ...] = (
    ("regression", "Regressions"),
    ("fixed", "Fixed"),
    ("changed", "Changed"),
)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def headline(comparison: Comparison) -> str:
    """``"2 regressions, 1 fixed, 0 changed in 5 checked tests"``."""
    return (
        f"{_plural(len(comparison.of('regression')), 'regression')}, {len(comparison.of('fixed'))} fixed, "
        f"{len(comparison.of('changed'))} changed in {_plural(comparison.compared, 'checked test')}"
    )


def text_lines(comparison: Comparison, old_name: str, new_name: str) -> list[str]:
    """The terminal output of ``compare``."""
    lines = [f"glleak compare: {old_name} -> {new_name} (growth tolerance {comparison.tolerance:.0%})"]
    for category, heading in _HEADINGS:
        found = comparison.of(category)
        if found:
            lines.append(f"{heading} ({len(found)}):")
            lines.extend(f"  {change.nodeid}: {change.text}" for change in found)
    if comparison.not_in_new:
        lines.append(f"Not in the new run, not compared ({len(comparison.not_in_new)}):")
        lines.extend(f"  {nodeid}" for nodeid in comparison.not_in_new)
    lines.append(f"glleak compare: {headline(comparison)}")
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(comparison: Comparison) -> str:
    """The comparison as markdown, for a pull-request comment."""
    verdict = "regressed" if comparison.regressed else "no regressions"
    lines = [f"### pytest-glleak: {verdict}", "", headline(comparison) + "."]
    if comparison.changes:
        lines += ["", "| | test | change |", "|---|---|---|"]
        for category, heading in _HEADINGS:
            for change in comparison.of(category):
                label = "Regression" if category == "regression" else heading
                lines.append(f"| {label} | `{_cell(change.nodeid)}` | {_cell(change.text)} |")
    if comparison.not_in_new:
        lines += ["", f"Not in the new run, not compared: {len(comparison.not_in_new)} tests with findings."]
    return "\n".join(lines) + "\n"
