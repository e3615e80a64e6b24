"""GitLab Code Quality output: one issue per leak site of each failing test, and per memory growth.

Pure logic, no pytest: :func:`codequality_issues` takes the ``--glleak-json`` document (a plain dict).
A fingerprint hashes what identifies a leak across runs and edits (kind, repository-relative file,
function, test id), never a line number or anything that changes from run to run, so GitLab's merge
request widget shows leaks as new or resolved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pytest_glleak.report.locations import failing_tests, growth_failures, leak_locations
from pytest_glleak.report.text import kind_phrase

LEAK_CHECK = "glleak-leak"
GROWTH_CHECK = "glleak-memory-growth"


def fingerprint(*parts: str) -> str:
    """A stable hex digest of ``parts`` (NUL-separated, so ``("ab", "c")`` and ``("a", "bc")`` differ)."""
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def codequality_issues(
    doc: Mapping[str, Any],
    repository: str,
    rootdir: str | None = None,
    test_lines: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """The Code Quality report (a JSON array) of a run's failing tests.

    Leaks are grouped per test by (kind, file, function) of the innermost creation-site frame inside
    ``repository`` (``CI_PROJECT_DIR``); their line is the first such line. Tests whose memory grew get
    one issue at the test (``test_lines``: node id -> line of the test function; line 1 when unknown).
    """
    issues: list[dict[str, Any]] = []
    for test in failing_tests(doc):
        nodeid = str(test.get("nodeid", ""))
        grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
        for location in leak_locations([test], repository, rootdir):
            path = location.path or nodeid.split("::", 1)[0]
            for kind, count in location.kinds.items():
                entry = grouped.setdefault(
                    (kind, path, location.function),
                    {"count": 0, "line": location.line or 1, "site": location.site},
                )
                entry["count"] += count
                entry["line"] = min(entry["line"], location.line or 1)
        for (kind, path, function), entry in sorted(grouped.items()):
            issues.append(
                {
                    "type": "issue",
                    "description": (
                        f"{nodeid} leaked {kind_phrase(kind, entry['count'])}, created at {entry['site']}()"
                    ),
                    "check_name": LEAK_CHECK,
                    "fingerprint": fingerprint(LEAK_CHECK, kind, path, function, nodeid),
                    "severity": "major",
                    "categories": ["Bug Risk", "Performance"],
                    "location": {"path": path, "lines": {"begin": entry["line"]}},
                }
            )
    for failure in growth_failures(failing_tests(doc), repository, rootdir, test_lines):
        path = failure.path or failure.nodeid.split("::", 1)[0]
        issues.append(
            {
                "type": "issue",
                "description": (
                    f"{failure.nodeid}: memory grew {failure.per_iteration:,} bytes per repetition "
                    f"(limit {failure.limit:,})"
                ),
                "check_name": GROWTH_CHECK,
                "fingerprint": fingerprint(GROWTH_CHECK, path, failure.nodeid),
                "severity": "major",
                "categories": ["Performance"],
                "location": {"path": path, "lines": {"begin": failure.line or 1}},
            }
        )
    return issues


def codequality_text(issues: list[dict[str, Any]]) -> str:
    """The report file's text: a JSON array, two-space indent, trailing newline."""
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
