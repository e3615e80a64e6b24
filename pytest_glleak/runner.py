"""The per-test protocol: snapshot at setup, attribute phases, verdict after teardown.

pytest glue only; measuring is done by the ledger (GL objects), the image tracker and the memory
baseline, and findings leave this module as plain builtins on the teardown report.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Generator
from typing import Any

import pytest

from pytest_glleak import marks
from pytest_glleak.baseline import Baseline
from pytest_glleak.findings import LeakedGLObject, LeakedImage, TestFindings
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.images import ImageTracker, format_image_leaks
from pytest_glleak.ledger import Ledger, LiveObject, format_gl_leaks
from pytest_glleak.memory import MemoryBaseline, format_growth_table, steady_state_verdict
from pytest_glleak.report import junit_properties
from pytest_glleak.settings import Settings

LEAK_SECTION = "glleak: leaks"


@dataclasses.dataclass
class TestState:
    """What the runner remembers about the test in progress."""

    plan: marks.CheckPlan
    mark: int
    image_token: Any = None
    call_failed: bool = False
    growth: dict[str, Any] | None = None


plan_key = pytest.StashKey[marks.CheckPlan]()
state_key = pytest.StashKey[TestState]()


class CheckRunner:
    """Registered as a plugin by ``pytest_configure``; one instance per process."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        provider: ContextProvider,
        ledger: Ledger,
        images: ImageTracker,
        baseline: Baseline | None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.provider = provider
        self.ledger = ledger
        self.images = images
        self.baseline = baseline

    # --- collection: markers are validated once, up front ---------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            item.stash[plan_key] = marks.plan_for(item, self.settings.mode)

    # --- attribution ----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        plan = item.stash.get(plan_key, None)
        if plan is None:
            plan = item.stash[plan_key] = marks.plan_for(item, self.settings.mode)
        self.ledger.test = item.nodeid
        self.ledger.phase = "setup"
        self.ledger.owner = "test"
        state = TestState(plan=plan, mark=self.ledger.mark())
        if plan.images is not None:
            min_bytes = plan.images.min_bytes or self.settings.image_min_bytes
            state.image_token = self.images.start(item.nodeid, min_bytes, precise=plan.images_explicit)
        item.stash[state_key] = state
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        self._phase("call")
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        self._phase("teardown")
        return (yield)

    def _phase(self, phase: str) -> None:
        self.ledger.phase = phase
        self.images.set_phase(phase)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
        # Objects made while a wider-scoped fixture is set up belong to that fixture, not the test.
        if fixturedef.scope == "function":
            return (yield)
        owner = self.ledger.owner
        self.ledger.owner = f"fixture:{fixturedef.scope}"
        self.images.set_phase(f"fixture:{fixturedef.scope}")
        try:
            return (yield)
        finally:
            self.ledger.owner = owner
            self.images.set_phase(self.ledger.phase)

    # --- max_memory_growth: the call phase is repeated -----------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        state = pyfuncitem.stash.get(state_key, None)
        growth = state.plan.growth if state is not None else None
        if growth is None or state is None:
            return (yield)
        original = pyfuncitem.obj

        @functools.wraps(original)
        def repeated(*args: Any, **kwargs: Any) -> None:
            baseline = MemoryBaseline(self.images)
            result = baseline.measure(
                lambda: original(*args, **kwargs), warmup=growth.warmup, repeat=growth.repeat
            )
            grew, per_iteration, table = steady_state_verdict(result, growth.limit)
            state.growth = {
                "grew": grew,
                "per_iteration": per_iteration,
                "limit": growth.limit,
                "table": table,
                "text": format_growth_table(result, growth.limit),
            }

        pyfuncitem.obj = repeated
        try:
            return (yield)
        finally:
            pyfuncitem.obj = original

    # --- verdict ---------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        state = item.stash.get(state_key, None)
        if state is None:
            return report
        if call.when == "call" and report.failed:
            state.call_failed = True
        if call.when != "teardown":
            return report
        del item.stash[state_key]
        if not state.plan.active:
            return report
        verdict = self._verdict(item, state)
        if verdict is None:
            return report
        findings, text = verdict
        report.glleak = findings  # type: ignore[attr-defined]
        report.user_properties.extend(junit_properties(findings))
        if findings["verdict"] in ("leaked", "grew"):
            if state.call_failed or report.failed:
                report.glleak_section = text  # type: ignore[attr-defined]
            else:
                report.outcome = "failed"
                report.longrepr = text
        return report

    def _verdict(self, item: pytest.Item, state: TestState) -> tuple[TestFindings, str] | None:
        """The test's findings and, when it leaked or grew, the full failure text."""
        plan = state.plan
        funcargs = getattr(item, "funcargs", None)
        if isinstance(funcargs, dict):
            # pytest keeps fixture values here until the next test; they are not the test's leaks.
            funcargs.clear()
        item.ihook.pytest_glleak_before_check(item=item)
        checks: list[str] = []
        findings: TestFindings = {"nodeid": item.nodeid}
        texts: list[str] = []
        leaked_gl: list[LiveObject] = []
        if plan.gl is not None and (plan.gl_explicit or self.ledger.touched_since(state.mark)):
            checks.append("gl")
            leaked_gl = self.ledger.leaks_since(state.mark, plan.gl.kinds)
            leaked_gl = _apply_allow(leaked_gl, plan.gl.allow)
            leaked_records = self.ledger.to_findings(leaked_gl)
            findings["gl"] = {
                "created": self.ledger.created_since(state.mark),
                "deleted": self.ledger.deleted_since(state.mark),
                "leaked": leaked_records,
            }
        if (
            plan.images is not None
            and state.image_token is not None
            and (plan.images_explicit or self.images.touched_since(state.image_token))
        ):
            checks.append("images")
            leaked_images = self.images.leaks(state.image_token, allow=plan.images.allow)
            findings["images"] = {"leaked": leaked_images}
        if state.image_token is not None:
            self.images.stop(state.image_token)
        if state.growth is not None:
            checks.append("memory")
            table = state.growth["table"]
            findings["memory"] = {
                "per_iteration": int(state.growth["per_iteration"]),
                "limit": int(state.growth["limit"]),
                "iterations": table,
            }
        if not checks:
            return None
        findings["checks"] = checks
        gl_leaks: list[LeakedGLObject] = findings["gl"]["leaked"] if "gl" in findings else []
        image_leaks: list[LeakedImage] = findings["images"]["leaked"] if "images" in findings else []
        grew = bool(state.growth and state.growth["grew"])
        if self.settings.baseline_update and (gl_leaks or image_leaks or grew):
            # Recording a baseline accepts today's leaks: the run passes and the file records them.
            findings["verdict"] = "known"
            findings["message"] = "recorded into the known-leak baseline (--glleak-baseline-update)"
            findings["known"] = [findings["message"]]
            self._cleanup(leaked_gl)
            return findings, ""
        if self.baseline is not None:
            verdict = self.baseline.compare(findings)
            if verdict.known:
                findings["known"] = list(verdict.known)
            if not verdict.regressions and (gl_leaks or image_leaks or grew):
                findings["verdict"] = "known"
                findings["message"] = "leaks within the known-leak baseline: " + "; ".join(verdict.known)
                self._cleanup(leaked_gl)
                return findings, ""
            if verdict.regressions:
                texts.append(
                    "Regressions against the known-leak baseline:\n  " + "\n  ".join(verdict.regressions)
                )
        summary: list[str] = []
        if gl_leaks:
            summary.append(_count_phrase(gl_leaks, "GL object"))
            texts.append(format_gl_leaks(gl_leaks))
        if image_leaks:
            summary.append(_count_phrase(image_leaks, "image buffer"))
            texts.append(format_image_leaks(image_leaks))
        if grew and state.growth is not None:
            summary.append(f"memory grew {state.growth['per_iteration']:,} bytes per repetition")
            texts.append(state.growth["text"])
        if summary:
            findings["verdict"] = "grew" if grew and not (gl_leaks or image_leaks) else "leaked"
            findings["message"] = "leaked " + ", ".join(summary) if (gl_leaks or image_leaks) else summary[0]
        else:
            findings["verdict"] = "clean"
        self._cleanup(leaked_gl)
        return findings, "\n\n".join(texts)

    def _cleanup(self, leaked: list[LiveObject]) -> None:
        if leaked and self.settings.cleanup:
            self.ledger.delete(leaked)
        if self.provider.context is not None:
            self.provider.context.make_current()


def _apply_allow(leaked: list[LiveObject], allow: dict[str, int] | Any) -> list[LiveObject]:
    if not allow:
        return leaked
    remaining = dict(allow)
    kept: list[LiveObject] = []
    for record in leaked:
        if remaining.get(record.kind, 0) > 0:
            remaining[record.kind] -= 1
            continue
        kept.append(record)
    return kept


def _count_phrase(items: list[Any], noun: str) -> str:
    by_kind: dict[str, int] = {}
    for entry in items:
        by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0) + 1
    parts = [f"{count} {kind}{'s' if count != 1 else ''}" for kind, count in by_kind.items()]
    return ", ".join(parts) if parts else f"0 {noun}s"
