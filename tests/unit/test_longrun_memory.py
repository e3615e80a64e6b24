"""What a long clean run keeps per test stays bounded or shared (issue 16, "long runs stay flat").

The sizes themselves are measured by ``benchmarks/bench_longrun.py``; these tests pin the mechanisms:
the creation-site intern table has a bound, equal leak-free sections and JUnit properties are stored
once, and sharing never changes what a report says.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pytest_glleak import sites
from pytest_glleak.findings import TestFindings as Findings
from pytest_glleak.findings import share_clean_sections
from pytest_glleak.report.json_report import build_json
from pytest_glleak.report.junit import junit_properties
from pytest_glleak.report.run import RunReport


def _distinct_creators(count: int) -> list[Any]:
    """``count`` functions with code objects of their own (as the tests of a long suite have), each
    returning the creation site captured inside it."""
    source = "".join(f"def creator_{i}():\n    return capture(4)\n" for i in range(count))
    namespace: dict[str, Any] = {"capture": sites.capture}
    exec(compile(source, __file__, "exec"), namespace)
    return [namespace[f"creator_{i}"] for i in range(count)]


def test_interned_sites_are_bounded_and_stay_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sites, "INTERN_LIMIT", 8)
    creators = _distinct_creators(50)
    captured = [creator() for creator in creators]
    assert len(sites._interned) <= 8
    assert len(sites._by_id) <= 8
    # A site captured before the tables started afresh still formats to where it was made.
    assert sites.format_site(captured[0])[0]["function"] == "creator_0"
    assert sites.format_site(captured[0])[0]["line"] == 2
    assert sites.format_site(captured[-1])[0]["function"] == "creator_49"
    # And a loop at one site still stores one tuple.
    again = [creators[3]() for _ in range(3)]
    assert again[0] is again[1] is again[2]


def _clean(nodeid: str, created: int = 1) -> Findings:
    return {
        "nodeid": nodeid,
        "checks": ["gl", "images"],
        "verdict": "clean",
        "gl": {"created": {"texture": created}, "deleted": {"texture": created}, "leaked": []},
        "images": {"leaked": []},
    }


def _leaked(nodeid: str) -> Findings:
    return {
        "nodeid": nodeid,
        "checks": ["gl"],
        "verdict": "leaked",
        "message": "leaked 1 texture",
        "gl": {
            "created": {"texture": 1},
            "deleted": {},
            "leaked": [
                {
                    "kind": "texture",
                    "name": 7,
                    "label": None,
                    "bytes": 0,
                    "context": 1,
                    "phase": "call",
                    "reserved_only": False,
                    "create_site": [{"file": "render.py", "line": 5, "function": "upload"}],
                }
            ],
        },
    }


def test_equal_clean_sections_are_stored_once() -> None:
    first, second, other = _clean("t.py::a"), _clean("t.py::b"), _clean("t.py::c", created=2)
    for findings in (first, second, other):
        share_clean_sections(findings)
    assert first["gl"] is second["gl"]
    assert first["images"] is second["images"]
    assert first["checks"] is second["checks"]
    assert other["gl"] is not first["gl"]  # different counts: its own
    assert other["gl"]["created"] == {"texture": 2}
    assert first["nodeid"] == "t.py::a" and second["nodeid"] == "t.py::b"


def test_sections_with_leaks_stay_each_tests_own() -> None:
    first, second = _leaked("t.py::a"), _leaked("t.py::b")
    for findings in (first, second):
        share_clean_sections(findings)
    assert first["gl"] is not second["gl"]
    assert first["gl"]["leaked"] is not second["gl"]["leaked"]


def test_sharing_changes_nothing_a_report_says() -> None:
    plain = [_clean(f"t.py::test_{i}", created=i % 3) for i in range(20)] + [_leaked("t.py::leaky")]
    compact = copy.deepcopy(plain)
    for findings in compact:
        share_clean_sections(findings)
    assert compact == plain
    reports = []
    for listing in (plain, compact):
        run = RunReport()
        for findings in listing:
            run.add(findings, "leaked" if findings["verdict"] == "leaked" else "passed")
        document = build_json(run)
        document.pop("created")
        reports.append(document)
    assert reports[0] == reports[1]
    assert [junit_properties(f) for f in plain] == [junit_properties(f) for f in compact]


def test_equal_junit_properties_are_shared_tuples() -> None:
    first, second = junit_properties(_clean("t.py::a")), junit_properties(_clean("t.py::b"))
    assert first == second
    assert all(a is b for a, b in zip(first, second, strict=True))
    assert ("glleak_verdict", "clean") in first
    leaked = junit_properties(_leaked("t.py::c"))
    assert ("glleak_gl_leaked", 1) in leaked
    assert type(dict(leaked)["glleak_gl_leaked"]) is int  # 1 is not stored as True, nor True as 1
