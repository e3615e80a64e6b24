"""The per-test protocol: snapshot at setup, attribute phases, verdict after teardown.

pytest glue only; measuring is done by the ledger (GL objects), the image tracker and the memory
baseline, and findings leave this module as plain builtins on the teardown report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import types
import unittest
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from pytest_glleak import marks
from pytest_glleak.errors import (
    PASS_THROUGH,
    InternalErrors,
    LeakFailure,
    PluginError,
    TextRepr,
    plugin_error,
)
from pytest_glleak.findings import MemorySection, TestFindings, share_clean_sections
from pytest_glleak.gl import ContextUnavailable
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.heap import ImageTracker, MemoryBaseline, format_growth_table, steady_state_verdict
from pytest_glleak.heap.diagnose import growth_diagnosis
from pytest_glleak.heap.growth import RESOLVABLE_GROWTH, RSS_FLOOR, rss_bytes
from pytest_glleak.ledger import Ledger, LiveObject
from pytest_glleak.report.baseline import Baseline
from pytest_glleak.report.growth_text import format_growth_sites
from pytest_glleak.report.junit import junit_properties
from pytest_glleak.settings import Settings, with_marker
from pytest_glleak.sites import make_portable
from pytest_glleak.verdict import FAILING, Growth, decide

#: The report section that carries leak text when a test failed for its own reason.
LEAK_SECTION = "glleak: leaks"


@dataclasses.dataclass
class TestState:
    """What the runner remembers about the test in progress."""

    plan: marks.CheckPlan
    mark: int
    image_token: Any = None
    #: Setup or call raised (failed, skipped, xfailed): leaks then never change the test's outcome.
    raised: bool = False
    #: What the call raised: the frames in its tracebacks are cleared before the check.
    exceptions: list[BaseException] = dataclasses.field(default_factory=list)
    growth: dict[str, Any] | None = None
    #: Names the driver knew at the start (``--glleak-driver-sweep``); None when no sweep was taken.
    sweep: frozenset[tuple[str, int]] | None = None
    #: The test's ``memory_baseline`` fixture value, when it used one: its fds and threads are reported.
    memory: MemoryBaseline | None = None


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    """A finished check, from the teardown hook to the teardown report."""

    findings: TestFindings
    text: str
    #: The check itself fails the test (it passed until then and leaked or grew).
    failing: bool


plan_key = pytest.StashKey[marks.CheckPlan]()
state_key = pytest.StashKey[TestState]()
outcome_key = pytest.StashKey[CheckOutcome]()
#: The call passed and its status waits for the teardown report (see the collector's teststatus).
deferred_key = pytest.StashKey[bool]()
#: Findings of the wider-scoped fixtures finalized in the item's teardown (to its teardown report).
fixtures_key = pytest.StashKey[list[TestFindings]]()
#: The item's teardown error is only its fixtures' leaks (the test itself is not to blame).
fixture_failed_key = pytest.StashKey[bool]()
#: Findings of fixtures finalized outside any test's teardown (config stash; the collector reports them).
orphan_fixtures_key = pytest.StashKey[list[tuple[TestFindings, str]]]()


@dataclasses.dataclass(frozen=True)
class FixtureWatch:
    """A wider-scoped fixture whose GL objects are checked when it is finalized."""

    owner: str  # the ledger owner of what its set-up made
    name: str
    scope: str
    where: str  # node id of its scope; "" for the session
    kinds: tuple[str, ...] | None

    @property
    def title(self) -> str:
        """``fixture renderer (module test_x.py)``."""
        return f"fixture {self.name} ({self.scope}{' ' + self.where if self.where else ''})"


@contextlib.contextmanager
def guarded(what: str, item: pytest.Item) -> Iterator[None]:
    """Turn an exception of the plugin's own code into the test's error, naming pytest-glleak."""
    try:
        yield
    except PASS_THROUGH:
        raise
    except pytest.UsageError:
        raise
    except BaseException as exc:
        raise plugin_error(what, item.nodeid, exc) from exc


def _innermost_site(findings: TestFindings) -> tuple[str, int] | None:
    for section, key in (("gl", "leaked"), ("images", "leaked")):
        for entry in (findings.get(section) or {}).get(key) or []:  # type: ignore[attr-defined]
            frames = entry.get("create_site") or []
            if frames:
                return str(frames[0]["file"]), int(frames[0]["line"])
    return None


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
        internal: InternalErrors,
    ) -> None:
        self.config = config
        self.internal = internal
        self.settings = settings
        self.provider = provider
        self.ledger = ledger
        self.images = images
        self.baseline = baseline
        self._active: TestState | None = None  # the test between its setup and its verdict
        #: Wider-scoped fixtures being watched, by id of their FixtureDef: checked at finalization.
        self._watches: dict[int, FixtureWatch] = {}
        #: Findings and failure texts of fixtures finalized in the current test's teardown.
        self._fixture_findings: list[tuple[TestFindings, str]] = []
        self._fixture_count = 0
        self._in_teardown: pytest.Item | None = None

    # --- collection: markers are validated once, up front ---------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            plan = item.stash[plan_key] = marks.plan_for(item, self.settings.mode)
            if plan.growth is not None:
                _check_growth_target(item, plan.growth)

    # --- attribution ----------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        with guarded("the set-up", item):
            plan = item.stash.get(plan_key, None)
            if plan is None:
                plan = item.stash[plan_key] = marks.plan_for(item, self.settings.mode)
            self.ledger.test = item.nodeid
            self.ledger.phase = "setup"
            self.ledger.owner = "test"
            state = TestState(plan=plan, mark=self.ledger.mark())
            item.stash[state_key] = state
            self._active = state
            if plan.images is not None:
                settings = self.settings
                if plan.images.min_bytes is not None:  # the marker layer wins over every other
                    settings = with_marker(
                        settings,
                        {"image_min_bytes": plan.images.min_bytes},
                        f"marker no_image_leak on {item.nodeid}",
                    )
                min_bytes = settings.image_min_bytes
                precise = plan.images_explicit and self.settings.image_trace == "marked"
                state.image_token = self.images.start(item.nodeid, min_bytes, precise=precise)
            if plan.gl is not None and self.settings.driver_sweep:
                state.sweep = self._driver_sweep(plan)
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        with guarded("the call set-up", item):
            state = item.stash.get(state_key, None)
            if (
                state is not None
                and state.sweep is None
                and state.plan.gl is not None
                and self.settings.driver_sweep
            ):
                # The session context did not exist yet at setup (the first GL test): sweep now.
                state.sweep = self._driver_sweep(state.plan)
            self._phase("call")
            if state is not None and state.plan.growth is not None and _is_unittest(item):
                # unittest runs the method itself, not through pytest_pyfunc_call: pytest sets the
                # item's obj on the TestCase instance, so the repeated body goes there.
                assert isinstance(item, pytest.Function)
                original = item.obj
                item.obj = self._repeated(item, state, state.plan.growth, original)
                try:
                    return (yield)
                finally:
                    item.obj = original
        return (yield)

    def _driver_sweep(self, plan: marks.CheckPlan) -> frozenset[tuple[str, int]] | None:
        """The names the session context's driver knows now, or None when there is no context yet."""
        context = self.provider.context
        if context is None or plan.gl is None:
            return None
        try:
            context.make_current()
            return self.ledger.driver_sweep(plan.gl.kinds)
        except Exception:  # a sweep is a best-effort extra; it must never break the test
            return None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        # The check runs here, after every fixture is finalised and inside pytest's own protection of
        # the teardown phase: whatever it raises (a leak, a project hook's pytest.fail, a timeout, a bug
        # of ours) is this test's teardown error, never the session's.
        try:
            self._phase("teardown")
        except Exception as exc:  # nothing may stop the teardown itself from running
            self.internal.record("pytest_runtest_teardown", exc)
        teardown_error: BaseException | None = None
        # Wider-scoped fixtures whose scope ends here are finalized inside this teardown: their leaks
        # become this test's teardown error, naming the fixture.
        self._in_teardown, self._fixture_findings = item, []
        try:
            result = yield
        except PASS_THROUGH:
            self._in_teardown = None
            self._forget(item)
            self._destroy_extra(item)
            raise
        except BaseException as exc:
            teardown_error = exc
            result = None
        self._in_teardown = None
        # The session context current again (made anew when the test broke it) before the check; the
        # test's gl_context_factory contexts live on until after the verdict, so what is left in them is
        # the test's leak.
        message = self._settle(item)
        try:
            outcome = self._check(item)
            outcome = self._with_fixture_leaks(item, outcome, teardown_error)
        finally:
            self._destroy_extra(item)
        if teardown_error is not None:
            if message is not None:
                item.add_report_section("teardown", "glleak", message)
            raise teardown_error
        if isinstance(outcome, BaseException):
            if message is not None:
                item.add_report_section("teardown", "glleak", message)
            raise outcome
        if message is not None:
            pytest.fail(message, pytrace=False)
        return result

    def _settle(self, item: pytest.Item) -> str | None:
        """Make the session context current (anew if the test broke it); the message for the test's
        error when it did."""
        provider = self.provider
        try:
            provider.settle()
        except PASS_THROUGH:
            raise
        except ContextUnavailable as exc:
            return f"pytest-glleak: during {item.nodeid}: {exc}"
        except BaseException as exc:
            # Never mask the teardown's own error; the next test's set-up restores the context.
            self.internal.record("making the GL context current after the test", exc)
            return None
        lost = provider.take_lost()
        if lost is None:
            return None
        return (
            f"pytest-glleak: the GL context of this session was destroyed or made unusable during "
            f"{item.nodeid} ({lost}); a new context was made for the next tests"
        )

    def _destroy_extra(self, item: pytest.Item) -> None:
        """Destroy the test's gl_context_factory contexts (after its verdict)."""
        try:
            self.provider.destroy_extra()
        except PASS_THROUGH:
            raise
        except ContextUnavailable:
            pass  # said by _settle already; the next test's set-up tries again
        except BaseException as exc:
            self.internal.record("destroying gl_context_factory contexts", exc)

    def _with_fixture_leaks(
        self, item: pytest.Item, outcome: BaseException | None, teardown_error: BaseException | None
    ) -> BaseException | None:
        """The test's outcome, with the leaks of fixtures finalized in its teardown added."""
        fixtures, self._fixture_findings = self._fixture_findings, []
        if not fixtures:
            return outcome
        item.stash[fixtures_key] = [findings for findings, _ in fixtures]
        texts = [text for _, text in fixtures if text]
        if not texts or teardown_error is not None or isinstance(outcome, PluginError):
            return outcome  # the leaks are in the report's fixture entries and its section
        messages = [str(findings.get("message")) for findings, text in fixtures if text]
        if isinstance(outcome, LeakFailure):
            return LeakFailure("\n\n".join([outcome.text, *texts]), outcome.message, outcome.location)
        item.stash[fixture_failed_key] = True
        location = _innermost_site(fixtures[0][0])
        return LeakFailure(f"{'; '.join(messages)}\n\n" + "\n\n".join(texts), "; ".join(messages), location)

    def _forget(self, item: pytest.Item) -> None:
        state = item.stash.get(state_key, None)
        if state is None:
            return
        del item.stash[state_key]
        self._active = None
        if state.image_token is not None:
            try:
                self.images.stop(state.image_token)
            except Exception as exc:
                self.internal.record("stopping the image window", exc)

    def _check(self, item: pytest.Item) -> BaseException | None:
        """Run the test's checks; stash what the report needs. Returns what to raise: a
        :class:`LeakFailure`, a :class:`PluginError`, or None (clean, or nothing was checked)."""
        state = item.stash.get(state_key, None)
        if state is None:
            return None
        del item.stash[state_key]
        self._active = None
        if not state.plan.active and state.memory is None:
            return None
        try:
            verdict = self._verdict(item, state)
        except PASS_THROUGH:
            raise
        except BaseException as exc:
            # Whatever stopped the check (a project's pytest_glleak_before_check hook, a timeout, a bug
            # of ours), the next test starts with the plugin's context current and no tracing left on.
            self._recover(state)
            return plugin_error("the leak check", item.nodeid, exc)
        if verdict is None:
            return None
        findings, text = verdict
        failing = findings.get("verdict") in FAILING and not state.raised
        item.stash[outcome_key] = CheckOutcome(findings, text, failing)
        if failing:
            message = findings.get("message", "leaked")
            # The message heads the text: under xdist the controller gets the text as a plain string,
            # and pytest takes its first line as the one-line reason.
            return LeakFailure(f"{message}\n\n{text}", message, _innermost_site(findings))
        return None

    def _recover(self, state: TestState) -> None:
        if state.image_token is not None:
            try:
                self.images.stop(state.image_token)
            except Exception as exc:
                self.internal.record("stopping the image window", exc)
        try:
            self.provider.make_current()  # anew when foreign code broke it
        except ContextUnavailable:
            pass  # no new context could be made: the test's teardown said so already
        except Exception as exc:
            self.internal.record("making the GL context current after a failed check", exc)

    def _phase(self, phase: str) -> None:
        self.ledger.phase = phase
        self.images.set_phase(phase)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, Any, Any]:
        # Objects made while a wider-scoped fixture is set up belong to that fixture, not the test;
        # they are checked when the fixture is finalized (pytest_fixture_post_finalizer).
        if fixturedef.scope == "function":
            return (yield)
        owner = self.ledger.owner
        watch = self._watch(fixturedef, request)
        self.ledger.owner = watch.owner if watch is not None else f"fixture:{fixturedef.scope}"
        self.images.set_phase(f"fixture:{fixturedef.scope}")
        try:
            return (yield)
        finally:
            if watch is not None:
                self._watches[id(fixturedef)] = watch
            self.ledger.owner = owner
            self.images.set_phase(self.ledger.phase)
            active = self._active
            if active is not None and active.sweep is not None:
                # What the fixture made behind PyOpenGL's back is the fixture's too.
                active.sweep |= self._driver_sweep(active.plan) or frozenset()

    def _watch(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> FixtureWatch | None:
        """A watch over a wider-scoped fixture set up for a test whose plan checks GL (every test under
        ``--glleak-mode=all``, marked ones under ``marked``); None for the plugin's own fixtures."""
        active = self._active
        if active is None or active.plan.gl is None:
            return None
        module = getattr(getattr(fixturedef, "func", None), "__module__", "") or ""
        if module.startswith(("pytest_glleak", "_pytest")):
            return None
        self._fixture_count += 1
        node = getattr(request, "node", None)
        where = "" if fixturedef.scope == "session" else str(getattr(node, "nodeid", ""))
        return FixtureWatch(
            owner=f"fixture:{fixturedef.scope}:{fixturedef.argname}#{self._fixture_count}",
            name=fixturedef.argname,
            scope=fixturedef.scope,
            where=where,
            kinds=active.plan.gl.kinds,
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_post_finalizer(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> None:
        watch = self._watches.pop(id(fixturedef), None)
        if watch is None:
            return
        try:
            findings = self._fixture_verdict(watch)
        except Exception as exc:  # a fixture check of ours must never end the session
            self.internal.record("checking a fixture at its finalization", exc)
            return
        if findings is not None:
            if self._in_teardown is not None:
                self._fixture_findings.append(findings)
            else:  # finalized outside any test (an interrupted run): the collector reports it
                self.config.stash.setdefault(orphan_fixtures_key, []).append(findings)

    def _fixture_verdict(self, watch: FixtureWatch) -> tuple[TestFindings, str] | None:
        """The fixture's findings (a pseudo-entry), or None when it made no GL object at all."""
        kinds = frozenset(watch.kinds) if watch.kinds is not None else None
        owned = [
            record
            for record in self.ledger.live()
            if record.owner == watch.owner and (kinds is None or record.kind in kinds)
        ]
        if not owned:
            return None
        leaked = self.ledger.confirm(owned)
        findings: TestFindings = {
            "nodeid": f"{watch.where}::<fixture {watch.name}>" if watch.where else f"<fixture {watch.name}>",
            "fixture": {"name": watch.name, "scope": watch.scope, "where": watch.where},
            "checks": ["gl"],
            "gl": {"created": {}, "deleted": {}, "leaked": self.ledger.to_findings(leaked)},
        }
        make_portable(findings, str(self.config.rootpath))
        decision = decide(findings, None, self.baseline, recording=self.settings.baseline_update)
        findings = decision.findings
        text = ""
        if findings.get("verdict") in FAILING:
            findings["message"] = f"{watch.title} {findings.get('message', 'leaked')}"
            text = f"{findings['message']}, checked when its scope ended:\n\n{decision.text}"
        self._cleanup(leaked)
        return findings, text

    # --- max_memory_growth: the call phase is repeated -----------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> Generator[None, Any, Any]:
        state = pyfuncitem.stash.get(state_key, None)
        growth = state.plan.growth if state is not None else None
        if growth is None or state is None or _is_unittest(pyfuncitem):
            return (yield)
        original = pyfuncitem.obj
        pyfuncitem.obj = self._repeated(pyfuncitem, state, growth, original)
        try:
            return (yield)
        finally:
            pyfuncitem.obj = original

    def _repeated(self, item: pytest.Item, state: TestState, growth: marks.GrowthCheck, original: Any) -> Any:
        """``original`` wrapped to run ``warmup + repeat`` times under the memory measures."""

        @functools.wraps(original)
        def repeated(*args: Any, **kwargs: Any) -> None:
            raised_by_test: list[BaseException] = []

            def body() -> None:
                try:
                    original(*args, **kwargs)
                except BaseException as exc:
                    raised_by_test.append(exc)
                    raise

            try:
                result = MemoryBaseline(self.images).measure(
                    body,
                    warmup=growth.warmup,
                    repeat=growth.repeat,
                    # Below RSS's noise floor only the Python heap (tracemalloc) can honour the limit.
                    trace_heap=growth.limit < RSS_FLOOR,
                )
                grew, per_iteration, table = steady_state_verdict(result, growth.limit)
                text = format_growth_table(result, growth.limit)
                where: MemorySection = {}
                if grew:  # only a failing test pays for the diagnosis
                    where = growth_diagnosis(
                        body, growth.repeat, result.per_iteration, self.ledger, self.images
                    )
                    make_portable({"memory": where}, str(self.config.rootpath))
                    text = f"{text}\n{format_growth_sites(where, growth.repeat)}"
            except PASS_THROUGH:
                raise
            except BaseException as exc:
                if raised_by_test and exc is raised_by_test[-1]:
                    raise  # the test's own failure
                raise plugin_error("the memory measurement", item.nodeid, exc) from exc
            state.growth = {
                "grew": grew,
                "per_iteration": per_iteration,
                "limit": growth.limit,
                "table": table,
                "text": text,
                "where": where,
            }

        return repeated

    # --- reports -------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        try:
            self._annotate(item, call, report)
        except Exception as exc:  # a report detail must never end the session
            self.internal.record("pytest_runtest_makereport", exc)
        return report

    def _annotate(self, item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
        excinfo = call.excinfo
        if excinfo is not None and isinstance(excinfo.value, PluginError):
            # Our own failure: its text says what happened; a traceback of plugin internals would not.
            text = str(excinfo.value)
            report.longrepr = TextRepr(text, text.splitlines()[0])  # type: ignore[assignment]
        if call.when != "teardown":
            state = item.stash.get(state_key, None)
            if state is None:
                return
            if report.failed or call.excinfo is not None:
                state.raised = True
                if call.when == "call" and call.excinfo is not None:
                    # Not setup's: pytest re-raises a failed wider-scoped fixture's cached error later.
                    state.exceptions.append(call.excinfo.value)
            elif call.when == "call" and state.plan.active and not hasattr(report, "wasxfail"):
                # The test's status is decided after its teardown: the teardown report carries it.
                report.glleak_deferred = True  # type: ignore[attr-defined]
                item.stash[deferred_key] = True
            return
        if item.stash.get(deferred_key, False):
            del item.stash[deferred_key]
            report.glleak_deferred = True  # type: ignore[attr-defined]
        fixtures = item.stash.get(fixtures_key, None)
        if fixtures is not None:
            del item.stash[fixtures_key]
            report.glleak_fixtures = fixtures  # type: ignore[attr-defined]
        if item.stash.get(fixture_failed_key, False):
            del item.stash[fixture_failed_key]
            if excinfo is not None and isinstance(excinfo.value, LeakFailure):
                failure = excinfo.value
                report.longrepr = TextRepr(failure.text, failure.message, failure.location)  # type: ignore[assignment]
                report.glleak_failed = True  # type: ignore[attr-defined]
                report.glleak_fixture_failed = True  # type: ignore[attr-defined]
        outcome = item.stash.get(outcome_key, None)
        if outcome is None:
            return
        del item.stash[outcome_key]
        findings = outcome.findings
        report.glleak = share_clean_sections(findings)  # type: ignore[attr-defined]
        # This process's RSS after the test (one /proc/self/statm read): the HTML memory chart's line
        # per process (per xdist worker).
        report.glleak_rss = rss_bytes()  # type: ignore[attr-defined]
        report.user_properties.extend(junit_properties(findings))
        if not outcome.text:
            return
        if outcome.failing and excinfo is not None and isinstance(excinfo.value, LeakFailure):
            failure = excinfo.value
            report.longrepr = TextRepr(failure.text, failure.message, failure.location)  # type: ignore[assignment]
            report.glleak_failed = True  # type: ignore[attr-defined]
        else:
            # The test failed or errored for its own reason: that stays its outcome, the leaks a section.
            report.sections.append((LEAK_SECTION, outcome.text))

    def _verdict(self, item: pytest.Item, state: TestState) -> tuple[TestFindings, str] | None:
        """The test's findings and, when it leaked or grew, the full failure text."""
        plan = state.plan
        for exception in state.exceptions:
            # pytest keeps the last error in sys.last_value for post-mortem debugging; by now the report
            # holds its text and --pdb is over, but the frames would keep every local of the test alive.
            _clear_frames(exception)
        state.exceptions.clear()
        funcargs = getattr(item, "funcargs", None)
        if isinstance(funcargs, dict):
            # pytest keeps fixture values here until the next test; they are not the test's leaks.
            funcargs.clear()
        item.ihook.pytest_glleak_before_check(item=item)
        checks: list[str] = []
        findings: TestFindings = {"nodeid": item.nodeid}
        leaked_gl: list[LiveObject] = []
        if plan.gl is not None and (
            plan.gl_explicit or state.sweep is not None or self.ledger.touched_since(state.mark)
        ):
            checks.append("gl")
            leaked_gl = self.ledger.leaks_since(state.mark, plan.gl.kinds)
            if state.sweep is not None:
                leaked_gl += self._outside_since(state.sweep, plan.gl.kinds)
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
            where: MemorySection = state.growth["where"]
            findings["memory"].update(where)
        if state.memory is not None:
            self._record_memory_baseline(state, findings)
        if not checks:
            if state.memory is None:
                return None
            findings["checks"] = checks
            return findings, ""
        findings["checks"] = checks
        make_portable(findings, str(self.config.rootpath))
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
        self._cleanup(leaked_gl)
        return decision.findings, decision.text

    def _outside_since(
        self, sweep: frozenset[tuple[str, int]], kinds: tuple[str, ...] | None
    ) -> list[LiveObject]:
        context = self.provider.context
        if context is None:
            return []
        try:
            context.make_current()
            outside = self.ledger.outside_since(sweep, kinds)
        except Exception:  # best effort, as the sweep at setup
            return []
        for record in outside:
            record.phase = ""  # no hook saw it made: setup, call or teardown cannot be told
        return outside

    @staticmethod
    def _record_memory_baseline(state: TestState, findings: TestFindings) -> None:
        """What a ``memory_baseline`` user left behind: fds and threads, never a failure by themselves."""
        baseline = state.memory
        if baseline is None or baseline.calibration is None:
            return
        findings["fds_left_open"] = baseline.fds_left_open()
        findings["threads_left_running"] = baseline.threads_left_running()

    def _cleanup(self, leaked: list[LiveObject]) -> None:
        if leaked and self.settings.cleanup:
            self.ledger.delete(leaked)
        with contextlib.suppress(ContextUnavailable):  # the test's teardown said so already
            self.provider.make_current()  # anew when the test broke it


class GrowthLimitWarning(pytest.PytestWarning):
    """A ``max_memory_growth`` limit below what any memory measure can resolve."""


def _is_unittest(item: pytest.Item) -> bool:
    cls = getattr(item, "cls", None)
    return isinstance(item, pytest.Function) and isinstance(cls, type) and issubclass(cls, unittest.TestCase)


def _check_growth_target(item: pytest.Item, growth: marks.GrowthCheck) -> None:
    """A usage error when ``item`` runs no test function to repeat; a warning for an unresolvable limit."""
    if not isinstance(item, pytest.Function):
        raise pytest.UsageError(
            f"pytest-glleak: @pytest.mark.max_memory_growth on {item.nodeid}: a {type(item).__name__} item "
            "runs no test function that could be repeated; only test functions and methods (unittest "
            "included) can be measured"
        )
    if growth.limit < RESOLVABLE_GROWTH:
        item.warn(
            GrowthLimitWarning(
                f"pytest-glleak: max_memory_growth limit of {growth.limit:,} bytes on {item.nodeid} is below "
                f"what any memory measure can resolve ({RESOLVABLE_GROWTH:,} bytes, the Python heap's noise "
                f"floor); growth up to {RESOLVABLE_GROWTH:,} bytes per repetition passes"
            )
        )


def _clear_frames(exception: BaseException) -> None:
    """Drop the locals of the finished frames in ``exception``'s tracebacks (and chained ones')."""
    pending: list[BaseException] = [exception]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        _clear_traceback(current.__traceback__)
        pending.extend(error for error in (current.__cause__, current.__context__) if error is not None)
        members = getattr(current, "exceptions", None)  # an ExceptionGroup's
        if isinstance(members, (list, tuple)):
            pending.extend(member for member in members if isinstance(member, BaseException))


_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _clear_traceback(tb: types.TracebackType | None) -> None:
    while tb is not None:
        frame = tb.tb_frame
        tb = tb.tb_next
        if frame.f_code.co_flags & _GENERATOR_FLAGS:
            continue  # clearing a suspended generator's frame would close it; a finished one is empty
        try:
            frame.clear()
        except RuntimeError:  # still executing
            continue
        # Before Python 3.13, a frame whose f_locals was read (pytest's traceback formatting reads them)
        # keeps a snapshot dict; reading f_locals again drops the cleared names from it.
        frame.f_locals  # noqa: B018


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
