"""The per-test looks at what the driver knows beyond the ledger: driver sweeps and the cheap probe.

A sweep covers the session context and the contexts made since the test's first sweep; the probe (a few
glIs* names per kind) only the session context. Both are best-effort extras: a failure gives nothing, never
an error. No pytest imports; the runner calls these from its hooks.
"""

from __future__ import annotations

from collections.abc import Iterable

from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.ledger import Ledger, LiveObject
from pytest_glleak.ledger.sweep import Snapshot


class ContextSweeps:
    """Sweeps and probes of the session context (and the test's own contexts) for one ledger."""

    def __init__(self, ledger: Ledger, provider: ContextProvider) -> None:
        self.ledger = ledger
        self.provider = provider

    def probe(self) -> frozenset[tuple[str, int]] | None:
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

    def handles(self, known: frozenset[int]) -> list[int]:
        """The contexts a sweep covers: the session context, then those made since the first sweep (the
        ledger's contexts not in ``known``)."""
        handles: list[int] = []
        context = self.provider.context
        if context is not None:
            handle = self.ledger.handle_of(context)
            if handle:
                handles.append(handle)
        handles.extend(sorted(self.ledger.context_handles() - known))
        return handles

    def sweep(self, known: frozenset[int], kinds: Iterable[str] | None) -> Snapshot | None:
        """What the driver knows now and the ledger does not, per context, or None when there is no
        session context yet."""
        if self.provider.context is None:
            return None
        try:
            return self.ledger.sweep_contexts(self.handles(known), kinds)
        except Exception:  # a sweep is a best-effort extra; it must never break the test
            return None

    def outside_since(
        self,
        known: frozenset[int],
        before: Snapshot,
        ends: list[tuple[str, Snapshot]],
        kinds: Iterable[str] | None,
    ) -> list[LiveObject]:
        """What the driver knows now, in the session context and the contexts made during the test, that
        neither the ledger nor the first sweep knew; each with the phase the phase-end sweeps tell."""
        if self.provider.context is None:
            return []
        # After the call's end sweep, what is new was made in the teardown; without it, nobody can tell.
        last_phase = "teardown" if ends and ends[-1][0] == "call" else ""
        try:
            return self.ledger.outside_in(self.handles(known), before, ends, last_phase, kinds)
        except Exception:  # best effort, as the sweep at setup
            return []
