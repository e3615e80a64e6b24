"""Wider-scoped fixtures (class, module, package, session): their GL objects and images checked when the
fixture's scope ends, not at the end of the test that happened to set them up.

A fixture set up for a test whose plan checks GL or images is watched; at its finalization its GL objects
are confirmed, and once pytest dropped its value its images are looked at. Findings of fixtures finalized
inside a test's teardown join that test's outcome; those finalized outside any test (session end, ``-x``,
an interrupted run) are orphans, reported by the collector. No pytest imports: the runner passes the
fixture's names and scope as plain values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_glleak.check import Checker, TestState, innermost_site
from pytest_glleak.errors import InternalErrors, LeakFailure, PluginError
from pytest_glleak.findings import TestFindings
from pytest_glleak.ledger import LiveObject
from pytest_glleak.sites import make_portable
from pytest_glleak.verdict import FAILING, decide

if TYPE_CHECKING:  # the plan's dataclasses live with the markers (pytest glue); only their types here
    from pytest_glleak.marks import ImageLeakCheck


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


def image_min_bytes(check: ImageLeakCheck | None, default: int) -> int | None:
    """The size from which a fixture's arrays are checked, or None when its test's plan checks no images."""
    if check is None:
        return None
    return check.min_bytes if check.min_bytes is not None else default


#: A fixture finalized, with its GL objects still alive (None: it made none, or GL is not checked).
Finalized = tuple[FixtureWatch, "list[LiveObject] | None"]


class FixtureScopes:
    """The watched wider-scoped fixtures of one process, from set-up to verdict."""

    def __init__(self, checker: Checker, internal: InternalErrors) -> None:
        self.checker = checker
        self.internal = internal
        #: Wider-scoped fixtures being watched, by id of their FixtureDef: checked at finalization.
        self.watches: dict[int, FixtureWatch] = {}
        #: Findings and failure texts of fixtures finalized in the current test's teardown.
        self.findings: list[tuple[TestFindings, str]] = []
        self._count = 0
        #: A test's teardown is running: fixtures finalized now are that test's.
        self.in_teardown = False
        #: Fixtures finalized (GL objects confirmed) whose images are checked once pytest dropped their
        #: value: in the current test's teardown, and outside any test (see :meth:`finish_orphans`).
        self.finalized: list[Finalized] = []
        self.orphans: list[Finalized] = []

    def watch(
        self, active: TestState | None, *, scope: str, argname: str, suffix: str, module: str, where: str
    ) -> FixtureWatch | None:
        """A watch over a wider-scoped fixture set up for a test whose plan checks GL (every test under
        ``--glleak-mode=all``, marked ones under ``marked``); None for the plugin's own fixtures.
        ``suffix`` names a parametrized instance, ``module`` is where the fixture function is defined,
        ``where`` the node id of its scope ("" for the session)."""
        if active is None or (active.plan.gl is None and active.plan.images is None):
            return None
        if module.startswith(("pytest_glleak", "_pytest")):
            return None
        self._count += 1
        plan = active.plan
        return FixtureWatch(
            owner=f"fixture:{scope}:{argname}#{self._count}",
            name=argname + suffix,
            scope=scope,
            where=where,
            kinds=plan.gl.kinds if plan.gl is not None else None,
            gl=plan.gl is not None,
            image_min_bytes=image_min_bytes(plan.images, self.checker.settings.image_min_bytes),
        )

    def finalize(self, key: int) -> None:
        """The fixture of FixtureDef id ``key`` was finalized: its GL objects are confirmed now (the
        contexts they live in may end with the next fixture); its images once pytest dropped its value."""
        watch = self.watches.pop(key, None)
        if watch is None:
            return
        try:
            leaked = self._gl_left(watch)
        except Exception as exc:  # a fixture check of ours must never end the session
            self.internal.record("checking a fixture at its finalization", exc)
            return
        if self.in_teardown:
            self.finalized.append((watch, leaked))
        else:  # finalized outside any test (session end, an interrupted run): see finish_orphans
            self.orphans.append((watch, leaked))

    def finish(self, drop_values: Callable[[], None]) -> None:
        """The verdicts of the fixtures finalized in the current test's teardown; ``drop_values`` lets go
        of the fixture values pytest keeps until the next test."""
        finalized, self.finalized = self.finalized, []
        if not finalized:
            return
        drop_values()
        self.findings.extend(self._verdicts(finalized))

    def finish_orphans(self, found: list[tuple[TestFindings, str]]) -> list[tuple[TestFindings, str]]:
        """Verdicts of the fixtures finalized outside any test's teardown, added to ``found``."""
        orphans, self.orphans = self.orphans, []
        found.extend(self._verdicts(orphans))
        return found

    def _verdicts(self, pairs: list[Finalized]) -> list[tuple[TestFindings, str]]:
        """The verdicts of finalized fixtures; a check of ours that fails is recorded, never raised."""
        verdicts: list[tuple[TestFindings, str]] = []
        for watch, leaked in pairs:
            try:
                findings = self.verdict(watch, leaked)
            except Exception as exc:  # a fixture check of ours must never end the session
                self.internal.record("checking a fixture at its finalization", exc)
                continue
            if findings is not None:
                verdicts.append(findings)
        return verdicts

    def with_leaks(
        self, outcome: BaseException | None, teardown_error: BaseException | None
    ) -> tuple[BaseException | None, list[TestFindings] | None, bool]:
        """The test's outcome with the leaks of the fixtures finalized in its teardown added; those
        fixtures' findings (None when there were none); whether the teardown's error is only theirs."""
        fixtures, self.findings = self.findings, []
        if not fixtures:
            return outcome, None, False
        entries = [findings for findings, _ in fixtures]
        texts = [text for _, text in fixtures if text]
        if not texts or teardown_error is not None or isinstance(outcome, PluginError):
            return outcome, entries, False  # the leaks are in the report's fixture entries and its section
        messages = [str(findings.get("message")) for findings, text in fixtures if text]
        if isinstance(outcome, LeakFailure):
            combined = LeakFailure("\n\n".join([outcome.text, *texts]), outcome.message, outcome.location)
            return combined, entries, False
        location = innermost_site(fixtures[0][0])
        failure = LeakFailure(
            f"{'; '.join(messages)}\n\n" + "\n\n".join(texts), "; ".join(messages), location
        )
        return failure, entries, True

    def _gl_left(self, watch: FixtureWatch) -> list[LiveObject] | None:
        """The fixture's GL objects the driver still knows, or None when it made none (or GL is not
        checked)."""
        if not watch.gl:
            return None
        ledger = self.checker.ledger
        kinds = frozenset(watch.kinds) if watch.kinds is not None else None
        owned = [
            record
            for record in ledger.live()
            if record.owner == watch.owner and (kinds is None or record.kind in kinds)
        ]
        if not owned:
            return None
        return ledger.confirm(owned)

    def verdict(
        self, watch: FixtureWatch, leaked: list[LiveObject] | None
    ) -> tuple[TestFindings, str] | None:
        """The fixture's findings (a pseudo-entry), or None when it made no GL object and left no image."""
        checker = self.checker
        findings: TestFindings = {
            "nodeid": f"{watch.where}::<fixture {watch.name}>" if watch.where else f"<fixture {watch.name}>",
            "fixture": {"name": watch.name, "scope": watch.scope, "where": watch.where},
        }
        checks: list[str] = []
        if leaked is not None:
            checks.append("gl")
            findings["gl"] = {"created": {}, "deleted": {}, "leaked": checker.ledger.to_findings(leaked)}
        if watch.image_min_bytes is not None:
            images = checker.images.fixture_leaks(watch.owner, watch.image_min_bytes)
            if images:
                checks.append("images")
                findings["images"] = {"leaked": images}
        if not checks:
            return None
        findings["checks"] = checks
        leaked = leaked or []
        make_portable(findings, checker.rootpath)
        decision = decide(findings, None, checker.baseline, recording=checker.settings.baseline_update)
        findings = decision.findings
        text = ""
        if findings.get("verdict") in FAILING:
            findings["message"] = f"{watch.title} {findings.get('message', 'leaked')}"
            text = f"{findings['message']}, checked when its scope ended:\n\n{decision.text}"
        checker.cleanup(leaked)
        return findings, text
