"""One test's check: what is remembered between its set-up and its verdict, and its findings.

The findings are built from the ledger (GL objects since the test's mark, plus what the driver sweeps
found), the image tracker's window and the growth measurement, then decided by :func:`verdict.decide`. No
pytest imports: the runner clears the test's frames and fixture values and calls the project's
``pytest_glleak_before_check`` hook first, and turns the result into the teardown's error and report.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_glleak.findings import MemorySection, TestFindings
from pytest_glleak.gl import ContextUnavailable
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.heap import ImageTracker, MemoryBaseline
from pytest_glleak.ledger import Ledger, LiveObject
from pytest_glleak.ledger.sweep import Snapshot
from pytest_glleak.options import Settings
from pytest_glleak.report.baseline import Baseline
from pytest_glleak.report.text import api_kind_phrase, count_phrase
from pytest_glleak.sites import make_portable
from pytest_glleak.sweeps import ContextSweeps
from pytest_glleak.verdict import Growth, decide

if TYPE_CHECKING:  # the plan's dataclasses live with the markers (pytest glue); only their types here
    from pytest_glleak.marks import CheckPlan


@dataclasses.dataclass
class TestState:
    """What the runner remembers about the test in progress."""

    plan: CheckPlan
    mark: int
    image_token: Any = None
    #: Setup or call raised (failed, skipped, xfailed): leaks then never change the test's outcome.
    raised: bool = False
    #: What the call raised: the frames in its tracebacks are cleared before the check.
    exceptions: list[BaseException] = dataclasses.field(default_factory=list)
    growth: dict[str, Any] | None = None
    #: Names the driver knew at the start, per context (``--glleak-driver-sweep``); None when no sweep
    #: was taken.
    sweep: Snapshot | None = None
    #: The contexts the ledger knew when that sweep was taken: the others were made during the test.
    sweep_known: frozenset[int] = frozenset()
    #: Sweeps taken at the end of the set-up and of the call: the phase of what the last sweep finds.
    sweep_ends: list[tuple[str, Snapshot]] = dataclasses.field(default_factory=list)
    #: Unknown names a cheap probe found at the start (marked tests, no sweep); None when not probed.
    probe: frozenset[tuple[str, int]] | None = None
    #: The test's ``memory_baseline`` fixture value, when it used one: its fds and threads are reported.
    memory: MemoryBaseline | None = None


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    """A finished check, from the teardown hook to the teardown report."""

    findings: TestFindings
    text: str
    #: The check itself fails the test (it passed until then and leaked or grew).
    failing: bool


def innermost_site(findings: TestFindings) -> tuple[str, int] | None:
    """The file and line where the first leaked GL object (else image) was made, for the report."""
    for section, key in (("gl", "leaked"), ("images", "leaked")):
        for entry in (findings.get(section) or {}).get(key) or []:  # type: ignore[attr-defined]
            frames = entry.get("create_site") or []
            if frames:
                return str(frames[0]["file"]), int(frames[0]["line"])
    return None


def apply_allow(leaked: list[LiveObject], allow: dict[str, int] | Any) -> list[LiveObject]:
    """``leaked`` less the first ``allow[kind]`` objects of each kind (``no_gl_leak(allow=...)``)."""
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


def unhooked_notice(counts: dict[str, int]) -> str:
    """The warning text for GL objects that appeared without any hooked binding making them."""
    total = sum(counts.values())
    kinds = ", ".join(api_kind_phrase(kind, count) for kind, count in counts.items())
    return (
        f"pytest-glleak: GL objects made outside the hooked bindings: {count_phrase(total, 'GL object')} "
        f"({kinds}) appeared in the session's GL context during this test that no hooked binding "
        "(PyOpenGL, moderngl, pyglet) made; they are not checked for leaks: rerun with "
        "--glleak-driver-sweep to check them"
    )


class Checker:
    """Builds and decides tests' (and fixtures') findings over one process's ledger and image tracker."""

    def __init__(
        self,
        ledger: Ledger,
        images: ImageTracker,
        provider: ContextProvider,
        baseline: Baseline | None,
        settings: Settings,
        rootpath: str,
    ) -> None:
        self.ledger = ledger
        self.images = images
        self.provider = provider
        self.baseline = baseline
        self.sweeps = ContextSweeps(ledger, provider)
        self.settings = settings
        #: The run's root directory: creation sites are shown relative to it.
        self.rootpath = rootpath

    # --- the driver sweeps of a test --------------------------------------------------------------
    def first_sweep(self, state: TestState) -> None:
        """The test's first driver sweep, and the contexts known at that point."""
        state.sweep_known = self.ledger.context_handles()
        state.sweep = self.driver_sweep(state)

    def phase_sweep(self, state: TestState, ended: str) -> None:
        """A driver sweep at the end of phase ``ended``: what the last sweep finds here was made in it."""
        snapshot = self.driver_sweep(state)
        if snapshot is not None:
            state.sweep_ends.append((ended, snapshot))

    def driver_sweep(self, state: TestState) -> Snapshot | None:
        """What the driver knows now and the ledger does not, per context, or None when there is no
        session context yet (or the test checks no GL)."""
        if state.plan.gl is None:
            return None
        return self.sweeps.sweep(state.sweep_known, state.plan.gl.kinds)

    def fixture_made(self, active: TestState) -> None:
        """A wider-scoped fixture was set up during ``active``: what it made behind the hooks' back is the
        fixture's, so it joins the test's first sweep (or probe)."""
        if active.sweep is not None:
            for handle, names in (self.driver_sweep(active) or {}).items():
                active.sweep[handle] = active.sweep.get(handle, frozenset()) | names
        if active.probe is not None:
            active.probe |= self.sweeps.probe() or frozenset()

    # --- the verdict ------------------------------------------------------------------------------
    def findings(
        self, nodeid: str, state: TestState, notice: Callable[[str], None]
    ) -> tuple[TestFindings, str] | None:
        """The test's findings and, when it leaked or grew, the full failure text; None when nothing was
        checked. ``notice`` receives the warning text when the probe saw unhooked GL objects."""
        plan = state.plan
        checks: list[str] = []
        findings: TestFindings = {"nodeid": nodeid}
        leaked_gl: list[LiveObject] = []
        if plan.gl is not None and (
            plan.gl_explicit or state.sweep is not None or self.ledger.touched_since(state.mark)
        ):
            checks.append("gl")
            leaked_gl = self.ledger.leaks_since(state.mark, plan.gl.kinds)
            if state.sweep is not None:
                leaked_gl += self.sweeps.outside_since(
                    state.sweep_known, state.sweep, state.sweep_ends, plan.gl.kinds
                )
            elif state.probe is not None:
                self._notice_unhooked(state.probe, findings, notice)
            leaked_gl = apply_allow(leaked_gl, plan.gl.allow)
            findings["gl"] = {
                "created": self.ledger.created_since(state.mark),
                "deleted": self.ledger.deleted_since(state.mark),
                "leaked": self.ledger.to_findings(leaked_gl),
            }
        if (
            plan.images is not None
            and state.image_token is not None
            and (plan.images_explicit or self.images.touched_since(state.image_token))
        ):
            checks.append("images")
            findings["images"] = {"leaked": self.images.leaks(state.image_token, allow=plan.images.allow)}
        if state.image_token is not None:
            self.images.stop(state.image_token)
        if state.growth is not None:
            checks.append("memory")
            findings["memory"] = {
                "per_iteration": int(state.growth["per_iteration"]),
                "limit": int(state.growth["limit"]),
                "iterations": state.growth["table"],
            }
            where: MemorySection = state.growth["where"]
            findings["memory"].update(where)
        if state.memory is not None:
            _record_memory_baseline(state.memory, findings)
        if not checks:
            if state.memory is None:
                return None
            findings["checks"] = checks
            return findings, ""
        findings["checks"] = checks
        make_portable(findings, self.rootpath)
        growth = None
        if state.growth is not None:
            growth = Growth(
                grew=bool(state.growth["grew"]),
                per_iteration=int(state.growth["per_iteration"]),
                limit=int(state.growth["limit"]),
                table=state.growth["table"],
                text=state.growth["text"],
            )
        decision = decide(findings, growth, self.baseline, recording=self.settings.baseline_update)
        self.cleanup(leaked_gl)
        return decision.findings, decision.text

    def _notice_unhooked(
        self, before: frozenset[tuple[str, int]], findings: TestFindings, notice: Callable[[str], None]
    ) -> None:
        """Note GL objects that appeared in the session context without any hook seeing them made: the
        test made them through a binding the plugin does not hook, so they are not checked."""
        after = self.sweeps.probe()
        if after is None:
            return
        counts: dict[str, int] = {}
        for kind, _ in sorted(after - before):
            counts[kind] = counts.get(kind, 0) + 1
        if not counts:
            return
        findings["gl_unhooked"] = counts
        notice(unhooked_notice(counts))

    def cleanup(self, leaked: list[LiveObject]) -> None:
        """Delete the leaked GL objects (``--glleak-cleanup``); the session context current again."""
        if leaked and self.settings.cleanup:
            self.ledger.delete(leaked)
        with contextlib.suppress(ContextUnavailable):  # the test's teardown said so already
            self.provider.make_current()  # anew when the test broke it


def _record_memory_baseline(baseline: MemoryBaseline, findings: TestFindings) -> None:
    """What a ``memory_baseline`` user left behind: fds and threads, never a failure by themselves."""
    if baseline.calibration is None:
        return
    findings["fds_left_open"] = baseline.fds_left_open()
    findings["threads_left_running"] = baseline.threads_left_running()
