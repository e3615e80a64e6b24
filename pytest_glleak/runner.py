"""The per-test protocol: snapshot at setup, attribute phases, verdict after teardown.

pytest glue only; measuring is done by the ledger (GL objects), the image tracker and the memory
baseline, and findings leave this module as plain builtins on the teardown report. The pure parts: a
test's state and findings in ``check`` (sweeps in ``sweeps``), wider-scoped fixtures in ``scopes``, the
growth repetition in ``repeat``, what is put back after a test in ``aftercare``, frames in ``frames``.
"""

from __future__ import annotations

import contextlib
import functools
import unittest
import warnings
from collections.abc import Generator, Iterator
from typing import Any

import pytest

from pytest_glleak import marks
from pytest_glleak.aftercare import destroy_extra, recover, settle_context, stop_images
from pytest_glleak.check import Checker, CheckOutcome, TestState, innermost_site
from pytest_glleak.errors import (
    PASS_THROUGH,
    InternalErrors,
    LeakFailure,
    PluginError,
    TextRepr,
    plugin_error,
)
from pytest_glleak.findings import TestFindings, share_clean_sections
from pytest_glleak.frames import clear_frames
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.heap import ImageTracker
from pytest_glleak.heap.growth import RESOLVABLE_GROWTH, rss_bytes
from pytest_glleak.ledger import Ledger
from pytest_glleak.repeat import repeated
from pytest_glleak.report.baseline import Baseline
from pytest_glleak.report.junit import junit_properties
from pytest_glleak.scopes import FixtureScopes, FixtureWatch
from pytest_glleak.settings import Settings, with_marker
from pytest_glleak.verdict import FAILING

#: The report section that carries leak text when a test failed for its own reason.
LEAK_SECTION = "glleak: leaks"


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
#: The notice of GL objects made outside the hooked bindings, for the item's teardown to warn with.
notice_key = pytest.StashKey[str]()


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
        self.checker = Checker(ledger, images, provider, baseline, settings, str(config.rootpath))
        #: Wider-scoped fixtures, checked when their scope ends.
        self.scopes = FixtureScopes(self.checker, internal)
        images.test_thread = ledger.test_thread
        images.thread_owner = ledger.thread_owner  # a fixture's render thread's images are the fixture's

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
                self.checker.first_sweep(state)
            elif plan.gl is not None and plan.gl_explicit:
                state.probe = self.checker.sweeps.probe()
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        with guarded("the call set-up", item):
            state = item.stash.get(state_key, None)
            if state is not None and state.plan.gl is not None and self.settings.driver_sweep:
                if state.sweep is None:
                    # The session context did not exist yet at setup (the first GL test): sweep now.
                    self.checker.first_sweep(state)
                else:
                    self.checker.phase_sweep(state, "setup")
            elif (
                state is not None
                and state.probe is None
                and state.plan.gl is not None
                and state.plan.gl_explicit
                and not self.settings.driver_sweep
            ):
                state.probe = self.checker.sweeps.probe()  # the session context did not exist yet at setup
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

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        # The check runs here, after every fixture is finalised and inside pytest's own protection of
        # the teardown phase: whatever it raises (a leak, a project hook's pytest.fail, a timeout, a bug
        # of ours) is this test's teardown error, never the session's.
        try:
            self._phase("teardown")
            state = item.stash.get(state_key, None)
            if state is not None and state.sweep is not None:
                self.checker.phase_sweep(state, "call")
        except Exception as exc:  # nothing may stop the teardown itself from running
            self.internal.record("pytest_runtest_teardown", exc)
        teardown_error: BaseException | None = None
        # Wider-scoped fixtures whose scope ends here are finalized inside this teardown: their leaks
        # become this test's teardown error, naming the fixture.
        self.scopes.in_teardown, self.scopes.findings = True, []
        try:
            result = yield
        except PASS_THROUGH:
            self.scopes.in_teardown = False
            self.scopes.finalized = []
            self._forget(item)
            destroy_extra(self.provider, self.internal)
            raise
        except BaseException as exc:
            teardown_error = exc
            result = None
        self.scopes.in_teardown = False
        # The session context current again (made anew when the test broke it) before the check; the
        # test's gl_context_factory contexts live on until after the verdict, so what is left in them is
        # the test's leak.
        message = settle_context(self.provider, item.nodeid, self.internal)
        try:
            outcome = self._check(item)
            self.scopes.finish(functools.partial(_drop_fixture_values, item))
            outcome = self._with_fixture_leaks(item, outcome, teardown_error)
        finally:
            destroy_extra(self.provider, self.internal)
        notice = item.stash.get(notice_key, None)
        if notice is not None:
            del item.stash[notice_key]
            if teardown_error is None and outcome is None and message is None:
                _warn_unhooked(item, notice)  # may raise, under -W error: the test's teardown error
            else:
                item.add_report_section("teardown", "glleak", notice)
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

    def _with_fixture_leaks(
        self, item: pytest.Item, outcome: BaseException | None, teardown_error: BaseException | None
    ) -> BaseException | None:
        """The test's outcome, with the leaks of fixtures finalized in its teardown added."""
        outcome, fixtures, only_fixtures = self.scopes.with_leaks(outcome, teardown_error)
        if fixtures is not None:
            item.stash[fixtures_key] = fixtures
        if only_fixtures:
            item.stash[fixture_failed_key] = True
        return outcome

    def _forget(self, item: pytest.Item) -> None:
        state = item.stash.get(state_key, None)
        if state is None:
            return
        del item.stash[state_key]
        self._active = None
        stop_images(self.images, state.image_token, self.internal)

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
            recover(self.provider, self.images, state.image_token, self.internal)
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
            return LeakFailure(f"{message}\n\n{text}", message, innermost_site(findings))
        return None

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
        owner, phase = self.ledger.owner, self.images.phase
        watch = self._watch(fixturedef, request)
        self.ledger.owner = watch.owner if watch is not None else f"fixture:{fixturedef.scope}"
        self.images.set_phase(self.ledger.owner)  # its images are recorded under the same owner
        try:
            return (yield)
        finally:
            if watch is not None:
                self.scopes.watches[id(fixturedef)] = watch
            self.ledger.owner = owner
            self.images.set_phase(phase)  # an enclosing fixture's, when fixtures nest
            if self._active is not None:
                self.checker.fixture_made(self._active)

    def _watch(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> FixtureWatch | None:
        """A watch over a wider-scoped fixture set up for a test whose plan checks GL or images."""
        node = getattr(request, "node", None)
        return self.scopes.watch(
            self._active,
            scope=fixturedef.scope,
            argname=fixturedef.argname,
            suffix=_param_suffix(request),
            module=getattr(getattr(fixturedef, "func", None), "__module__", "") or "",
            where="" if fixturedef.scope == "session" else str(getattr(node, "nodeid", "")),
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_post_finalizer(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> None:
        self.scopes.finalize(id(fixturedef))

    def finish_orphans(self) -> list[tuple[TestFindings, str]]:
        """Verdicts of the fixtures finalized outside any test's teardown (after the last test: session
        end, ``-x``, an interrupted run), for the report collector's ``pytest_sessionfinish``."""
        return self.scopes.finish_orphans(self.config.stash.setdefault(orphan_fixtures_key, []))

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
        return repeated(
            original,
            growth,
            state,
            nodeid=item.nodeid,
            ledger=self.ledger,
            images=self.images,
            rootpath=str(self.config.rootpath),
        )

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
        for exception in state.exceptions:
            # pytest keeps the last error in sys.last_value for post-mortem debugging; by now the report
            # holds its text and --pdb is over, but the frames would keep every local of the test alive.
            clear_frames(exception)
        state.exceptions.clear()
        _drop_fixture_values(item)  # pytest keeps them until the next test; they are not its leaks
        item.ihook.pytest_glleak_before_check(item=item)

        def notice(text: str) -> None:
            item.stash[notice_key] = text

        return self.checker.findings(item.nodeid, state, notice)


class UnhookedGLWarning(pytest.PytestWarning):
    """A marked test made GL objects through a binding pytest-glleak does not hook (raw ctypes, Qt, a C
    extension): they are not checked for leaks unless ``--glleak-driver-sweep`` is given. Not a failure by
    itself; ``-W error::pytest_glleak.UnhookedGLWarning`` makes it one."""


def _warn_unhooked(item: pytest.Item, notice: str) -> None:
    path, line, _ = item.location
    warnings.warn_explicit(
        UnhookedGLWarning(notice),
        category=UnhookedGLWarning,
        filename=str(item.path) if hasattr(item, "path") else path,
        lineno=(line or 0) + 1,
    )


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


def _drop_fixture_values(item: pytest.Item) -> None:
    """Let go of the fixture values pytest keeps on the item until the next test."""
    funcargs = getattr(item, "funcargs", None)
    if isinstance(funcargs, dict):
        funcargs.clear()


def _param_suffix(request: pytest.FixtureRequest) -> str:
    """``[small]`` for an instance of a parametrized fixture (each instance is checked on its own), else
    ``""``. Plain parameters are named by their value, others by their index."""
    if not hasattr(request, "param"):
        return ""
    param = request.param
    if isinstance(param, (str, int, float, bool)) or param is None:
        return f"[{param}]"
    return f"[{getattr(request, 'param_index', 0)}]"
