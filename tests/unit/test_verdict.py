"""The one decision: findings in, verdict and text out; a test's outcome from its reports."""

from __future__ import annotations

import dataclasses

from pytest_glleak.findings import LeakedGLObject, TestFindings
from pytest_glleak.verdict import Growth, decide, outcome_of


def _texture(line: int = 12) -> LeakedGLObject:
    return {
        "kind": "texture",
        "name": 3,
        "label": None,
        "bytes": 1024,
        "context": 1,
        "phase": "call",
        "reserved_only": False,
        "create_site": [{"file": "viewer.py", "line": line, "function": "upload"}],
    }


def _findings(*leaks: LeakedGLObject) -> TestFindings:
    return {
        "nodeid": "test_v.py::test_x",
        "checks": ["gl"],
        "gl": {"created": {"texture": len(leaks)}, "deleted": {}, "leaked": list(leaks)},
    }


GROWTH = Growth(grew=True, per_iteration=1_048_576, limit=262_144, table=[], text="memory grew ...")


@dataclasses.dataclass(frozen=True)
class Comparison:
    known: tuple[str, ...] = ()
    regressions: tuple[str, ...] = ()


@dataclasses.dataclass
class FakeBaseline:
    comparison: Comparison

    def compare(self, findings: TestFindings) -> Comparison:
        return self.comparison


def test_nothing_found_is_clean_with_no_text() -> None:
    decision = decide(_findings(), None)
    assert decision.verdict == "clean" and decision.text == "" and not decision.failing


def test_leaks_are_leaked_with_the_message_and_the_text_of_each_site() -> None:
    decision = decide(_findings(_texture(), _texture(13)), None)
    assert decision.verdict == "leaked" and decision.failing
    assert decision.findings["message"] == "leaked 2 textures"
    assert "created at viewer.py:12 in upload()" in decision.text
    assert "created at viewer.py:13 in upload()" in decision.text


def test_growth_alone_is_grew_and_with_leaks_is_leaked() -> None:
    grew = decide(_findings(), GROWTH)
    assert grew.verdict == "grew" and grew.failing
    assert grew.findings["message"] == "memory grew 1.0 MiB per repetition"
    assert grew.text == "memory grew ..."
    both = decide(_findings(_texture()), GROWTH)
    assert both.verdict == "leaked"
    assert both.findings["message"] == "leaked 1 texture, memory grew 1.0 MiB per repetition"


def test_recording_a_baseline_accepts_everything_found() -> None:
    decision = decide(_findings(_texture()), GROWTH, recording=True)
    assert decision.verdict == "known" and not decision.failing and decision.text == ""
    assert decision.findings["known"] == [decision.findings["message"]]
    assert decide(_findings(), None, recording=True).verdict == "clean"


def test_the_baseline_makes_known_leaks_pass_and_regressions_fail() -> None:
    known = decide(_findings(_texture()), None, FakeBaseline(Comparison(known=("1 texture: known",))))
    assert known.verdict == "known" and known.findings["known"] == ["1 texture: known"]
    regressed = decide(_findings(_texture()), None, FakeBaseline(Comparison(regressions=("new site",))))
    assert regressed.verdict == "leaked"
    assert regressed.text.startswith("Regressions against the known-leak baseline:\n  new site")


def test_outcome_puts_the_tests_own_result_first() -> None:
    assert outcome_of("passed", "leaked", failed_by_check=True, teardown_failed=True) == "leaked"
    assert outcome_of("passed", "leaked", failed_by_check=False, teardown_failed=True) == "error"
    assert outcome_of("failed", "leaked", failed_by_check=False, teardown_failed=False) == "failed"
    assert outcome_of("error", "leaked", failed_by_check=False, teardown_failed=False) == "error"
    assert outcome_of("passed", "known", failed_by_check=False, teardown_failed=False) == "known"
    assert outcome_of("failed", "known", failed_by_check=False, teardown_failed=False) == "failed"
    assert outcome_of("skipped", None, failed_by_check=False, teardown_failed=False) == "skipped"
    assert outcome_of("passed", "clean", failed_by_check=False, teardown_failed=False) == "passed"
    assert outcome_of("???", None, failed_by_check=False, teardown_failed=False) == "error"
