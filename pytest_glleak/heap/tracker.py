"""The image tracker: a registry of live decoded image buffers and the per-test verdict.

No pytest imports: the plugin glue calls :class:`ImageTracker` around each checked test. How each kind
of buffer is seen is told in :mod:`pytest_glleak.heap`; the hooks themselves are in
:mod:`pytest_glleak.heap.pillow`. Once something is still alive, what it is and what holds it is found
by :mod:`pytest_glleak.heap.suspects`; a wider-scoped fixture's leftovers by
:mod:`pytest_glleak.heap.fixtures`.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import tracemalloc
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from pytest_glleak import sites
from pytest_glleak.findings import LeakedImage
from pytest_glleak.heap import datamem, rawbytes
from pytest_glleak.heap.datamem import DataWindow
from pytest_glleak.heap.fixtures import fixture_leaks
from pytest_glleak.heap.holders import ReferrerScans, Suspect
from pytest_glleak.heap.pillow import install_hooks, uninstall_hooks
from pytest_glleak.heap.pixels import CORE_TYPE, arena_blocks, core_of, image_bytes, pillow_blocks_in_use
from pytest_glleak.heap.precise import (
    BYTES_HEADER,
    NUMPY_DOMAIN,
    TRACE_FRAMES,
    TraceKey,
    fixture_growth,
    large_traces,
    tobytes_lines,
    traced_at_import,
)
from pytest_glleak.heap.rawbytes import BytesWindow
from pytest_glleak.heap.records import KeyedRef, TrackedBuffer
from pytest_glleak.heap.suspects import backing_bytes, describe_holders, live_cores, suspects_of
from pytest_glleak.sites import capture

#: Frames captured per image creation site at the least, whatever the stack depth. Reports keep
#: ``stack_depth`` of them; the walk goes on to the test runner to see whether an import made the image.
SITE_FRAMES = 6


@dataclasses.dataclass
class TrackingToken:
    """What :meth:`ImageTracker.start` remembers about one test's window."""

    nodeid: str
    seq: int
    created: int
    blocks_in_use: int
    min_bytes: int
    precise: bool
    owns_tracemalloc: bool = False
    traces_before: dict[TraceKey, int] | None = None
    #: Large blocks allocated while a wider-scoped fixture was being set up (precise mode): not leaks.
    fixture_traces: dict[TraceKey, int] = dataclasses.field(default_factory=dict)
    fixture_snapshot: dict[TraceKey, int] | None = None
    #: Precise mode through NumPy's data-memory handler (instead of tracemalloc), when available.
    data_window: DataWindow | None = None
    bytes_window: BytesWindow | None = None
    stopped: bool = False


class ImageTracker:
    """Weak-reference registry of decoded image buffers, with a cheap per-test verdict.

    ``install()`` once (the plugin does it at configure time), then around each checked test::

        token = tracker.start(nodeid, min_bytes=65536, precise=marked)
        tracker.set_phase("call"); ...; tracker.set_phase("teardown")
        leaked = tracker.leaks(token, allow=0)   # after teardown and the before-check hook
        tracker.stop(token)

    ``uninstall()`` restores Pillow and stops anything the tracker started.
    """

    def __init__(self, stack_depth: int = 6) -> None:
        #: User-code frames kept per creation site (``--glleak-stack-depth``; 0 keeps none).
        self.stack_depth = stack_depth
        self.capture_depth = max(stack_depth, SITE_FRAMES)
        self.phase = "setup"
        self._live: dict[int, TrackedBuffer] = {}
        self._seq = 0
        self._created = 0
        self._installed: list[tuple[Any, str, Any]] = []
        self._wrappers: list[object] = []
        self._drop = self._on_dead
        self._active: TrackingToken | None = None
        self._tobytes_lines: frozenset[tuple[str, int]] = frozenset()
        #: The thread tests run in, and who started the calling (other) thread: a ledger owner such as
        #: ``fixture:module:atlas#3`` (wired by the runner). Images other threads make while a fixture
        #: that started them is alive are that fixture's.
        self.test_thread = threading.get_ident()
        self.thread_owner: Callable[[], str] | None = None
        #: Precise mode through NumPy's data-memory handler where NumPy has one (else tracemalloc).
        self.use_handler = True

    # --- interception ----------------------------------------------------------------------------
    @property
    def installed(self) -> bool:
        """Whether the Pillow hooks are in place."""
        return bool(self._installed)

    def install(self) -> None:
        """Wrap the ``Image.im`` setter, ``Image.__array_interface__`` and ``ImageFile.__init__``; add
        ``Image.__array_struct__`` and ``Image.__array__`` (NumPy's conversions, tracked).

        Undone by :meth:`uninstall`.
        """
        if self._installed:
            return
        sites.refresh_skipped()  # Pillow's frames are library frames in creation sites
        self._installed, self._wrappers = install_hooks(self)
        self._tobytes_lines = tobytes_lines()

    def uninstall(self) -> None:
        """Restore Pillow, stop a tracemalloc this tracker started, forget every record.

        Raises RuntimeError if a tracker installed after this one is still installed.
        """
        uninstall_hooks(self._installed, self._wrappers)
        rawbytes.uninstall()
        self._installed = []
        self._wrappers = []
        if self._active is not None:
            self.stop(self._active)
        self._live.clear()

    # --- recording (the hot path: keep it small) -------------------------------------------------
    def current_phase(self) -> str:
        """The phase a buffer made now is recorded under: :attr:`phase`, or, in a thread a wider-scoped
        fixture started, ``"<fixture owner> thread"`` (the fixture's, never the running test's)."""
        thread_owner = self.thread_owner
        if thread_owner is None or threading.get_ident() == self.test_thread:
            return self.phase
        owner = thread_owner()
        return f"{owner} thread" if owner.startswith("fixture:") else self.phase

    def _on_dead(self, ref: KeyedRef) -> None:
        self._live.pop(ref.key, None)

    def _ndarray_record(self, target: Any, key: int, frame: types.FrameType) -> TrackedBuffer:
        """A new record of an ndarray buffer ``target`` (kept by a weak reference keyed ``key``), made at
        ``frame``; the caller fills in its shape, type and size."""
        ref = KeyedRef(target, self._drop)
        ref.key = key
        self._seq += 1
        self._created += 1
        return TrackedBuffer(
            ref,
            self._seq,
            "ndarray",
            capture(self.capture_depth, frame, imports=True),
            self.current_phase(),
            -1,
        )

    def _track_view(self, view: memoryview, interface: dict[str, Any], frame: types.FrameType) -> None:
        key = id(view)
        record = self._ndarray_record(view, key, frame)
        record.shape = tuple(interface.get("shape", ()))
        record.typestr = str(interface.get("typestr", ""))
        record.nbytes = view.nbytes
        self._live[key] = record

    def _track_array(self, array: np.ndarray[Any, Any], frame: types.FrameType) -> None:
        """Track what ``Image.__array__`` returned: the array itself when it owns its pixels (a copy),
        else the memoryview every array over those pixels shares (NumPy collapses view bases to it)."""
        base = array.base
        owned = base is None
        target: Any = array if owned else base
        if not owned and type(base) is not memoryview:
            target = array
        key = id(target)
        if key in self._live:
            return  # the same pixels handed out again (np.asarray of an already converted view)
        record = self._ndarray_record(target, key, frame)
        record.shape = tuple(int(n) for n in array.shape)
        record.typestr = array.dtype.str
        record.nbytes = int(array.nbytes)
        record.owned = owned
        self._live[key] = record

    # --- per-test window -------------------------------------------------------------------------
    def set_phase(self, phase: str) -> None:
        """Label what is created from now on ("setup", "call", "teardown", "fixture:session"...).

        Objects created in a ``fixture:*`` phase belong to a wider-scoped fixture and are never
        reported as the test's leaks. In precise mode, the large blocks such a fixture allocates are
        set aside too (one tracemalloc snapshot on entering and one on leaving the fixture phase).
        """
        token = self._active
        if token is not None and self._traced(token):
            entering, leaving = phase.startswith("fixture:"), self.phase.startswith("fixture:")
            if entering and not leaving:
                token.fixture_snapshot = large_traces(
                    tracemalloc.take_snapshot(), token.min_bytes, self._tobytes_lines
                )
            elif leaving and not entering and token.fixture_snapshot is not None:
                after = large_traces(tracemalloc.take_snapshot(), token.min_bytes, self._tobytes_lines)
                fixture_growth(token.fixture_snapshot, after, token.fixture_traces)
                token.fixture_snapshot = None
        self.phase = phase

    def start(self, test_nodeid: str, min_bytes: int = 65536, precise: bool = False) -> TrackingToken:
        """Open a test's window; ``precise`` also sees large NumPy and ``tobytes`` allocations (through
        NumPy's data-memory handler, or tracemalloc where NumPy has none)."""
        if self._active is not None and not self._active.stopped:
            self.stop(self._active)
        self.phase = "setup"
        token = TrackingToken(
            test_nodeid, self._seq, self._created, pillow_blocks_in_use(), min_bytes, precise
        )
        if precise and self.use_handler and datamem.unavailable() is None:
            token.data_window = DataWindow(min_bytes, self.current_phase, self.capture_depth)
            token.bytes_window = BytesWindow(min_bytes, self.current_phase, self.capture_depth)
            try:
                token.data_window.open()
                token.bytes_window.open()
            except Exception:  # a handler we cannot wrap (unknown struct version...): tracemalloc
                for window in (token.data_window, token.bytes_window):
                    window.close()
                token.data_window = token.bytes_window = None
        if precise and token.data_window is None:
            if tracemalloc.is_tracing():
                token.traces_before = large_traces(
                    tracemalloc.take_snapshot(), min_bytes, self._tobytes_lines
                )
            else:
                tracemalloc.start(TRACE_FRAMES)
                token.owns_tracemalloc = True
        self._active = token
        return token

    def stop(self, token: TrackingToken) -> None:
        """Close the window: stops tracemalloc if :meth:`start` started it. Safe to call twice."""
        if token.stopped:
            return
        token.stopped = True
        for window in (token.data_window, token.bytes_window):
            if window is not None:
                window.close()
        if token.owns_tracemalloc and tracemalloc.is_tracing():
            tracemalloc.stop()
        if self._active is token:
            self._active = None

    def mark(self) -> int:
        """A point in the tracker's history, for :meth:`alive_since` (the memory growth diagnosis)."""
        return self._seq

    def alive_since(self, mark: int, min_bytes: int = 65536) -> list[LeakedImage]:
        """Images and image-backed arrays created after ``mark`` and alive now, with what holds them.

        The same findings :meth:`leaks` gives, for a window that is not a test's (one repetition of a
        ``max_memory_growth`` test); it leaves the test's own window alone. Call after a collection.
        """
        token = TrackingToken("", mark, self._created, pillow_blocks_in_use(), min_bytes, False)
        if not self._leaked_records(token):
            return []
        scans = ReferrerScans()
        suspects = self._collect_suspects(token, scans)
        describe_holders(suspects, scans)
        findings = [suspect.finding for suspect in suspects if suspect.kind != "pillow_blocks"]
        suspects.clear()
        return findings

    def touched_since(self, token: TrackingToken) -> bool:
        """Whether any Pillow image or image-backed array was created since ``start``."""
        return self._created != token.created

    def live_bytes(self) -> int:
        """Bytes held by every live tracked image and image-backed array (for the memory baseline)."""
        total = 0
        for record in self._records():
            obj = record.ref()
            if obj is None:
                continue
            total += record.nbytes if record.kind == "ndarray" else image_bytes(obj)
        return total

    def _records(self) -> list[TrackedBuffer]:
        while True:
            try:
                return list(self._live.values())
            except RuntimeError:  # a weakref callback fired mid-copy
                continue

    def _since(self, token: TrackingToken) -> list[TrackedBuffer]:
        """Live records created after ``token``, oldest first, without copying the older ones."""
        while True:
            found: list[TrackedBuffer] = []
            try:
                for record in reversed(self._live.values()):
                    if record.seq <= token.seq:
                        break
                    found.append(record)
            except RuntimeError:
                continue
            found.reverse()
            return found

    # --- the verdict -----------------------------------------------------------------------------
    def leaks(self, token: TrackingToken, allow: int = 0) -> list[LeakedImage]:
        """Image buffers created during the window and still alive, as findings (``allow`` tolerated).

        Clean path: a walk over the records made since ``start`` plus one read of Pillow's counters
        (and, in precise mode, one tracemalloc snapshot); no garbage collection. Only when something
        is still alive does it collect and look again, then explain what holds each survivor.
        """
        if not self._suspicious(token):
            return []
        gc.collect()
        if not self._suspicious(token):
            return []
        scans = ReferrerScans()
        suspects = self._collect_suspects(token, scans)
        if len(suspects) <= allow:
            return []
        describe_holders(suspects, scans)
        findings = [suspect.finding for suspect in suspects[allow:]]
        suspects.clear()
        return findings

    def _leaked_records(self, token: TrackingToken) -> list[TrackedBuffer]:
        leaked = []
        for record in self._since(token):
            if record.phase.startswith("fixture:") or record.ref() is None:
                continue
            if record.kind == "ndarray" and record.nbytes < token.min_bytes:
                continue
            if sites.made_at_import(record.site):
                continue
            leaked.append(record)
        return leaked

    def _unexplained_blocks(self, token: TrackingToken) -> int:
        grown = pillow_blocks_in_use() - token.blocks_in_use
        if grown <= 0:
            return 0
        cores: dict[int, int] = {}
        for record in self._records():
            if record.kind != "pil_image" or record.core_seq <= token.seq:
                continue
            image = record.ref()
            core = core_of(image)
            if core is not None and type(core) is CORE_TYPE:
                cores[id(core)] = arena_blocks(core)
        return max(0, grown - sum(cores.values()))

    def _suspicious(self, token: TrackingToken) -> bool:
        if self._leaked_records(token) or self._unexplained_blocks(token) > 0:
            return True
        if token.data_window is not None and token.data_window.maybe_alive():
            return True
        if token.bytes_window is not None:
            token.bytes_window.prune()
            if token.bytes_window.kept:
                return True
        if not self._traced(token):
            return False
        if token.owns_tracemalloc and tracemalloc.get_traced_memory()[0] < token.min_bytes:
            return False  # every block traced since start, together, is smaller than one large block
        return bool(self._new_traces(token))

    def _new_traces(self, token: TrackingToken) -> dict[TraceKey, int]:
        traces = large_traces(tracemalloc.take_snapshot(), token.min_bytes, self._tobytes_lines)
        for known in (token.traces_before, token.fixture_traces):
            for key, count in (known or {}).items():
                if key in traces:
                    traces[key] -= count
        traces = {key: count for key, count in traces.items() if count > 0 and not traced_at_import(key[2])}
        # Image-backed arrays are reported from their own records; drop their tobytes() traces (the
        # traced block is the whole bytes object: its pixels plus the object header).
        # Copies made by Image.__array__ are reported from their records too: drop their NumPy trace.
        for record in self._since(token):
            if record.kind == "ndarray" and record.ref() is not None:
                domain, size = (
                    (NUMPY_DOMAIN, record.nbytes) if record.owned else (0, record.nbytes + BYTES_HEADER)
                )
                for key in traces:
                    if key[0] == domain and key[1] == size and traces[key] > 0:
                        traces[key] -= 1
                        break
        return {key: count for key, count in traces.items() if count > 0}

    def _collect_suspects(self, token: TrackingToken, scans: ReferrerScans) -> list[Suspect]:
        traces = self._new_traces(token) if self._traced(token) else {}
        return suspects_of(
            self._leaked_records(token),
            traces,
            self._unexplained_blocks(token),
            token.min_bytes,
            stack_depth=self.stack_depth,
            scans=scans,
            known_cores=lambda: live_cores(self._records()),
            data_window=token.data_window,
            bytes_window=token.bytes_window,
            backing=lambda: backing_bytes(self._since(token)),
        )

    # --- wider-scoped fixtures ---------------------------------------------------------------------
    def fixture_leaks(self, owner: str, min_bytes: int = 65536) -> list[LeakedImage]:
        """Images and image-backed arrays a wider-scoped fixture made and still alive, as findings.

        ``owner`` is the phase they were recorded under (:meth:`set_phase` while the fixture was set up;
        ``"<owner> thread"`` for the threads it started). Call once the fixture is finalized and pytest
        has dropped its value: what is still alive then is kept by something else (a module-level cache).
        Each finding's phase is ``setup`` (made by the fixture's set-up) or ``thread``.
        """
        return fixture_leaks(self._records, owner, min_bytes, self.stack_depth)

    @staticmethod
    def _traced(token: TrackingToken) -> bool:
        """Whether the window is a precise one checked by tracemalloc (NumPy without the handler API)."""
        return token.precise and token.data_window is None and tracemalloc.is_tracing()
