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
import warnings
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
from pytest_glleak.ledger.sweep import Snapshot
from pytest_glleak.report.baseline import Baseline
from pytest_glleak.report.growth_text import format_growth_sites
from pytest_glleak.report.junit import junit_properties
from pytest_glleak.report.text import api_kind_phrase, count_phrase
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


@dataclasses.dataclass(frozen=True)
class FixtureWatch:
    """A wider-scoped fixture whose GL objects are checked when it is finalized."""

    owner: str  # the ledger owner of what its set-up made
    name: str
    scope: str
    where: str  # node id of its scope; "" for the session
    kinds: tuple[str, ...] | None
    #: Its GL objects are checked (the plan of the test that set it up checks GL).
    gl: bool = True
    #: Its image buffers are checked, arrays from this size (the test's plan checks images); else None.
    image_min_bytes: int | None = None

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
        #: Fixtures finalized (GL objects confirmed) whose images are checked once pytest dropped their
        #: value: in the current test's teardown, and outside any test (see :meth:`finish_orphans`).
        self._finalized: list[tuple[FixtureWatch, list[LiveObject] | None]] = []
        self._orphans: list[tuple[FixtureWatch, list[LiveObject] | None]] = []
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
                self._first_sweep(state)
            elif plan.gl is not None and plan.gl_explicit:
                state.probe = self._probe()
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        with guarded("the call set-up", item):
            state = item.stash.get(state_key, None)
            if state is not None and state.plan.gl is not None and self.settings.driver_sweep:
                if state.sweep is None:
                    # The session context did not exist yet at setup (the first GL test): sweep now.
                    self._first_sweep(state)
                else:
                    self._phase_sweep(state, "setup")
            elif (
                state is not None
                and state.probe is None
                and state.plan.gl is not None
                and state.plan.gl_explicit
                and not self.settings.driver_sweep
            ):
                state.probe = self._probe()  # the session context did not exist yet at setup
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

    def _first_sweep(self, state: TestState) -> None:
        """The test's first driver sweep, and the contexts known at that point."""
        state.sweep_known = self.ledger.context_handles()
        state.sweep = self._driver_sweep(state)

    def _phase_sweep(self, state: TestState, ended: str) -> None:
        """A driver sweep at the end of phase ``ended``: what the last sweep finds here was made in it."""
        snapshot = self._driver_sweep(state)
        if snapshot is not None:
            state.sweep_ends.append((ended, snapshot))

    def _probe(self) -> frozenset[tuple[str, int]] | None:
        """The cheap look for unhooked objects in the session context; None when there is none yet."""
        context = self.provider.context
        if context is None:
            return None
        handle = self.ledger.handle_of(context)
        if not handle:
            return None
        try:
            return self.ledger.probe_unhooked([handle])
        except Exception:  # a best-effort notice; it must never break the test
            return None

    def _sweep_handles(self, state: TestState) -> list[int]:
        """The contexts a sweep covers: the session context, then those made since the first sweep."""
        handles: list[int] = []
        context = self.provider.context
        if context is not None:
            handle = self.ledger.handle_of(context)
            if handle:
                handles.append(handle)
        handles.extend(sorted(self.ledger.context_handles() - state.sweep_known))
        return handles

    def _driver_sweep(self, state: TestState) -> Snapshot | None:
        """What the driver knows now and the ledger does not, per context, or None when there is no
        session context yet."""
        plan = state.plan
        if self.provider.context is None or plan.gl is None:
            return None
        try:
            return self.ledger.sweep_contexts(self._sweep_handles(state), plan.gl.kinds)
        except Exception:  # a sweep is a best-effort extra; it must never break the test
            return None

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, None, None]:
        # The check runs here, after every fixture is finalised and inside pytest's own protection of
        # the teardown phase: whatever it raises (a leak, a project hook's pytest.fail, a timeout, a bug
        # of ours) is this test's teardown error, never the session's.
        try:
            self._phase("teardown")
            state = item.stash.get(state_key, None)
            if state is not None and state.sweep is not None:
                self._phase_sweep(state, "call")
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
            self._finalized = []
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
            self._finish_fixtures(item)
            outcome = self._with_fixture_leaks(item, outcome, teardown_error)
        finally:
            self._destroy_extra(item)
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
        owner, phase = self.ledger.owner, self.images.phase
        watch = self._watch(fixturedef, request)
        self.ledger.owner = watch.owner if watch is not None else f"fixture:{fixturedef.scope}"
        self.images.set_phase(self.ledger.owner)  # its images are recorded under the same owner
        try:
            return (yield)
        finally:
            if watch is not None:
                self._watches[id(fixturedef)] = watch
            self.ledger.owner = owner
            self.images.set_phase(phase)  # an enclosing fixture's, when fixtures nest
            active = self._active
            if active is not None and active.sweep is not None:
                # What the fixture made behind the hooks' back is the fixture's too.
                for handle, names in (self._driver_sweep(active) or {}).items():
                    active.sweep[handle] = active.sweep.get(handle, frozenset()) | names
            if active is not None and active.probe is not None:
                active.probe |= self._probe() or frozenset()

    def _watch(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> FixtureWatch | None:
        """A watch over a wider-scoped fixture set up for a test whose plan checks GL (every test under
        ``--glleak-mode=all``, marked ones under ``marked``); None for the plugin's own fixtures."""
        active = self._active
        if active is None or (active.plan.gl is None and active.plan.images is None):
            return None
        module = getattr(getattr(fixturedef, "func", None), "__module__", "") or ""
        if module.startswith(("pytest_glleak", "_pytest")):
            return None
        self._fixture_count += 1
        node = getattr(request, "node", None)
        where = "" if fixturedef.scope == "session" else str(getattr(node, "nodeid", ""))
        return FixtureWatch(
            owner=f"fixture:{fixturedef.scope}:{fixturedef.argname}#{self._fixture_count}",
            name=fixturedef.argname + _param_suffix(request),
            scope=fixturedef.scope,
            where=where,
            kinds=active.plan.gl.kinds if active.plan.gl is not None else None,
            gl=active.plan.gl is not None,
            image_min_bytes=_image_min_bytes(active.plan.images, self.settings.image_min_bytes),
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_post_finalizer(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> None:
        watch = self._watches.pop(id(fixturedef), None)
        if watch is None:
            return
        try:
            # GL objects are confirmed now (the contexts they live in may end with the next fixture);
            # images once pytest has dropped the fixture's value, right after this hook.
            leaked = self._fixture_gl(watch)
        except Exception as exc:  # a fixture check of ours must never end the session
            self.internal.record("checking a fixture at its finalization", exc)
            return
        if self._in_teardown is not None:
            self._finalized.append((watch, leaked))
        else:  # finalized outside any test (session end, an interrupted run): see finish_orphans
            self._orphans.append((watch, leaked))

    def _finish_fixtures(self, item: pytest.Item) -> None:
        """The verdicts of the fixtures finalized in ``item``'s teardown (its fixture values dropped)."""
        finalized, self._finalized = self._finalized, []
        if not finalized:
            return
        funcargs = getattr(item, "funcargs", None)
        if isinstance(funcargs, dict):
            funcargs.clear()  # pytest keeps fixture values here until the next test
        for watch, leaked in finalized:
            try:
                findings = self._fixture_verdict(watch, leaked)
            except Exception as exc:  # a fixture check of ours must never end the session
                self.internal.record("checking a fixture at its finalization", exc)
                continue
            if findings is not None:
                self._fixture_findings.append(findings)

    def finish_orphans(self) -> list[tuple[TestFindings, str]]:
        """Verdicts of the fixtures finalized outside any test's teardown (after the last test: session
        end, ``-x``, an interrupted run), for the report collector's ``pytest_sessionfinish``."""
        orphans, self._orphans = self._orphans, []
        found = self.config.stash.setdefault(orphan_fixtures_key, [])
        for watch, leaked in orphans:
            try:
                findings = self._fixture_verdict(watch, leaked)
            except Exception as exc:  # a fixture check of ours must never end the session
                self.internal.record("checking a fixture at its finalization", exc)
                continue
            if findings is not None:
                found.append(findings)
        return found

    def _fixture_gl(self, watch: FixtureWatch) -> list[LiveObject] | None:
        """The fixture's GL objects the driver still knows, or None when it made none (or GL is not
        checked)."""
        if not watch.gl:
            return None
        kinds = frozenset(watch.kinds) if watch.kinds is not None else None
        owned = [
            record
            for record in self.ledger.live()
            if record.owner == watch.owner and (kinds is None or record.kind in kinds)
        ]
        if not owned:
            return None
        return self.ledger.confirm(owned)

    def _fixture_verdict(
        self, watch: FixtureWatch, leaked: list[LiveObject] | None
    ) -> tuple[TestFindings, str] | None:
        """The fixture's findings (a pseudo-entry), or None when it made no GL object and left no image."""
        findings: TestFindings = {
            "nodeid": f"{watch.where}::<fixture {watch.name}>" if watch.where else f"<fixture {watch.name}>",
            "fixture": {"name": watch.name, "scope": watch.scope, "where": watch.where},
        }
        checks: list[str] = []
        if leaked is not None:
            checks.append("gl")
            findings["gl"] = {"created": {}, "deleted": {}, "leaked": self.ledger.to_findings(leaked)}
        if watch.image_min_bytes is not None:
            images = self.images.fixture_leaks(watch.owner, watch.image_min_bytes)
            if images:
                checks.append("images")
                findings["images"] = {"leaked": images}
        if not checks:
            return None
        findings["checks"] = checks
        leaked = leaked or []
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
                leaked_gl += self._outside_since(state, state.sweep)
            elif state.probe is not None:
                self._notice_unhooked(item, state.probe, findings)
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

    def _notice_unhooked(
        self, item: pytest.Item, before: frozenset[tuple[str, int]], findings: TestFindings
    ) -> None:
        """Note GL objects that appeared in the session context without any hook seeing them made: the
        test made them through a binding the plugin does not hook, so they are not checked."""
        after = self._probe()
        if after is None:
            return
        counts: dict[str, int] = {}
        for kind, _ in sorted(after - before):
            counts[kind] = counts.get(kind, 0) + 1
        if not counts:
            return
        findings["gl_unhooked"] = counts
        total = sum(counts.values())
        kinds = ", ".join(api_kind_phrase(kind, count) for kind, count in counts.items())
        item.stash[notice_key] = (
            f"pytest-glleak: GL objects made outside the hooked bindings: {count_phrase(total, 'GL object')} "
            f"({kinds}) appeared in the session's GL context during this test that no hooked binding "
            "(PyOpenGL, moderngl, pyglet) made; they are not checked for leaks: rerun with "
            "--glleak-driver-sweep to check them"
        )

    def _outside_since(self, state: TestState, before: Snapshot) -> list[LiveObject]:
        """What the driver knows now, in the session context and the contexts made during the test, that
        neither the ledger nor the first sweep knew; each with the phase the phase-end sweeps tell."""
        if self.provider.context is None or state.plan.gl is None:
            return []
        ends = state.sweep_ends
        # After the call's end sweep, what is new was made in the teardown; without it, nobody can tell.
        last_phase = "teardown" if ends and ends[-1][0] == "call" else ""
        try:
            return self.ledger.outside_in(
                self._sweep_handles(state), before, ends, last_phase, state.plan.gl.kinds
            )
        except Exception:  # best effort, as the sweep at setup
            return []

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


def _image_min_bytes(check: marks.ImageLeakCheck | None, default: int) -> int | None:
    """The size from which a fixture's arrays are checked, or None when its test's plan checks no images."""
    if check is None:
        return None
    return check.min_bytes if check.min_bytes is not None else default


def _param_suffix(request: pytest.FixtureRequest) -> str:
    """``[small]`` for an instance of a parametrized fixture (each instance is checked on its own), else
    ``""``. Plain parameters are named by their value, others by their index."""
    if not hasattr(request, "param"):
        return ""
    param = request.param
    if isinstance(param, (str, int, float, bool)) or param is None:
        return f"[{param}]"
    return f"[{getattr(request, 'param_index', 0)}]"
