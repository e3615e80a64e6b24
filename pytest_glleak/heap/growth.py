"""The memory baseline: process-level measures, repetition with warm-up, and the steady-state rule.

No pytest imports: the ``memory_baseline`` fixture and ``@pytest.mark.max_memory_growth`` are glue over
:class:`MemoryBaseline` and :func:`steady_state_verdict`.

Measures (bytes unless said otherwise), each read after a full garbage collection and glibc's
``malloc_trim(0)``:

``rss``
    Resident set size, from ``/proc/self/statm`` (psutil elsewhere). Coarse: pymalloc grows it an arena
    (1 MiB) at a time, and pages are counted only once touched.
``uss``
    Unique set size (private pages), from psutil's ``memory_full_info`` (``/proc/self/smaps_rollup``
    on Linux). About 1 ms a reading, which is small next to the garbage collection every reading
    already pays (12-20 ms with NumPy, Pillow and PyOpenGL loaded), so it is on by default; pass
    ``uss=False`` to skip it.
``malloc``
    Bytes the C allocator has handed out and not taken back (glibc ``mallinfo2``: ``uordblks + hblkhd``),
    where available. Exact and cheap (2 us), blind to pymalloc's small objects (their arenas are
    mmapped directly) but sees every large buffer -- image cores, NumPy data, big bytes -- even when
    its pages were never touched.
``heap``
    ``tracemalloc``'s traced bytes, when tracemalloc is on: already (``-X tracemalloc``, or precise
    image mode on NumPy < 1.22), or started by :meth:`MemoryBaseline.measure` with
    ``trace_heap=True`` (it costs about 3x, so only for limits below RSS's noise floor).
``image_bytes``
    Bytes of live Pillow images and image-backed arrays, from the :class:`ImageTracker` when given.
``fds``, ``threads``
    Open file descriptors and OS threads (counts).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import gc
import os
import statistics
import sys
import threading
import tracemalloc
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

#: Measures in bytes, in table order; the growth rule looks only at these.
BYTE_MEASURES: tuple[str, ...] = ("rss", "uss", "malloc", "heap", "image_bytes")
#: Count measures, shown in the table but never part of the growth rule.
COUNT_MEASURES: tuple[str, ...] = ("fds", "threads")
#: Per-measure noise floors: growth at or below them never counts, whatever the limit. RSS and USS
#: move in pages and pymalloc arenas; the allocator figures move with Python's own caches.
NOISE_FLOOR: dict[str, int] = {"rss": 64 * 1024, "uss": 64 * 1024, "malloc": 16 * 1024, "heap": 16 * 1024}
#: The smallest growth per repetition any measure can resolve (``heap``, with tracemalloc on): a
#: ``max_memory_growth`` limit below it is raised to it.
RESOLVABLE_GROWTH: int = min(NOISE_FLOOR.values())
#: tracemalloc's own bookkeeping costs up to ~90 bytes of malloc (and RSS) per live traced block, so
#: while :meth:`MemoryBaseline.measure` traces, retained 16-byte objects grow the native measures about
#: 6x their traced bytes: those measures are then judged at ``TRACED_NATIVE_FACTOR * limit`` (at least
#: their floor). Native growth that large with the heap under the limit is not the code's; growth of
#: the heap over the limit fails on ``heap`` anyway.
TRACED_NATIVE_FACTOR: int = 8
#: Measures whose readings include tracemalloc's own bookkeeping.
NATIVE_MEASURES: frozenset[str] = frozenset({"rss", "uss", "malloc"})
#: Limits below this need the ``heap`` measure: the runner starts tracemalloc for the repetitions.
RSS_FLOOR: int = NOISE_FLOOR["rss"]
#: stdin, stdout and stderr: redirected by output capture, so a changed target is not a leaked fd.
STANDARD_FDS: frozenset[int] = frozenset({0, 1, 2})


class LiveImageBytes(Protocol):
    """What the baseline needs from the image tracker."""

    def live_bytes(self) -> int: ...


# --- low-level readings -----------------------------------------------------------------------------


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _load_libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


_libc = _load_libc()
_malloc_trim: Any = getattr(_libc, "malloc_trim", None)
_mallinfo2: Any = getattr(_libc, "mallinfo2", None)
if _malloc_trim is not None:
    _malloc_trim.argtypes = [ctypes.c_size_t]
    _malloc_trim.restype = ctypes.c_int
if _mallinfo2 is not None:
    _mallinfo2.argtypes = []
    _mallinfo2.restype = _MallInfo2
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def malloc_trim() -> bool:
    """Give free heap memory back to the OS (glibc ``malloc_trim(0)``); False where unavailable."""
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True


def malloc_in_use() -> int | None:
    """Bytes in use from the C allocator (glibc ``mallinfo2``), or None where unavailable."""
    if _mallinfo2 is None:
        return None
    info = _mallinfo2()
    return int(info.uordblks + info.hblkhd)


def rss_bytes() -> int:
    """Resident set size of this process."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        import psutil

        return int(psutil.Process().memory_info().rss)


def uss_bytes() -> int | None:
    """Unique set size of this process (psutil), or None where psutil cannot tell."""
    try:
        import psutil

        return int(psutil.Process().memory_full_info().uss)
    except Exception:  # psutil missing, AccessDenied, or no USS on this platform
        return None


def open_fds() -> dict[int, str]:
    """Open file descriptors of this process: fd -> what it points to (a path, ``socket:[...]``...)."""
    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    found: dict[int, str] = {}
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return found
    for name in names:
        try:
            fd = int(name)
            found[fd] = os.readlink(os.path.join(fd_dir, name))
        except (ValueError, OSError):
            continue  # the fd listdir itself used, already closed
    return found


def thread_count() -> int:
    """OS threads of this process (Python threads plus native ones, e.g. llvmpipe's workers)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def live_threads() -> dict[int, str]:
    """Running Python threads: ident -> description (name, daemon flag, target)."""
    found: dict[int, str] = {}
    for thread in threading.enumerate():
        if thread.ident is None:
            continue
        target = getattr(thread, "_target", None)
        where = f" running {getattr(target, '__qualname__', repr(target))}" if target is not None else ""
        found[thread.ident] = f"{thread.name}{' (daemon)' if thread.daemon else ''}{where}"
    return found


def left_open(
    before: Mapping[int, str], after: Mapping[int, str], what: str, redirected: Collection[int] = ()
) -> list[str]:
    """Descriptions of entries of ``after`` that were not in ``before`` (fds or threads a test left).

    An entry whose key was there before but now points elsewhere counts too (an fd closed and its
    number reused), except for the keys in ``redirected``, which only count when new.
    """
    return [
        f"{what} {key}: {after[key]}"
        for key in sorted(after)
        if key not in before or (before[key] != after[key] and key not in redirected)
    ]


# --- the baseline -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MeasureResult:
    """Readings around each of ``warmup + repeat`` calls of a function.

    ``rows`` holds one dict per call: ``iteration`` (1-based), ``warmup`` (1 for a warm-up call, else 0)
    and, for each measure, the growth since the reading before that call.
    """

    start: dict[str, int]
    rows: list[dict[str, int]]
    warmup: int
    repeat: int
    measures: tuple[str, ...]
    #: tracemalloc was started for these calls (``trace_heap``): see :data:`TRACED_NATIVE_FACTOR`.
    traced: bool = False

    @property
    def measured(self) -> list[dict[str, int]]:
        """The rows of the measured (non-warm-up) calls."""
        return [row for row in self.rows if not row["warmup"]]

    @property
    def per_iteration(self) -> dict[str, int]:
        """Steady-state growth per call of each measure: the smallest measured growth (see the rule)."""
        return {
            measure: min(row[measure] for row in self.measured)
            for measure in self.measures
            if self.measured and all(measure in row for row in self.measured)
        }

    @property
    def median_per_iteration(self) -> dict[str, int]:
        """Median measured growth per call of each measure."""
        return {
            measure: int(statistics.median(row[measure] for row in self.measured))
            for measure in self.measures
            if self.measured and all(measure in row for row in self.measured)
        }


class MemoryBaseline:
    """Process memory measures, calibrated once, then compared or sampled around repeated work."""

    def __init__(self, images: LiveImageBytes | None = None, *, uss: bool = True, trim: bool = True) -> None:
        self.images = images
        self.uss = uss
        self.trim = trim
        self.calibration: dict[str, int] | None = None
        self.fds_at_calibration: dict[int, str] = {}
        self.threads_at_calibration: dict[int, str] = {}

    def settle(self) -> None:
        """Full garbage collection, then ``malloc_trim(0)`` so that RSS reflects what is really held."""
        gc.collect()
        if self.trim:
            malloc_trim()

    def read(self) -> dict[str, int]:
        """Every available measure, now, without settling first."""
        reading: dict[str, int] = {"rss": rss_bytes()}
        if self.uss:
            uss = uss_bytes()
            if uss is not None:
                reading["uss"] = uss
        malloc = malloc_in_use()
        if malloc is not None:
            reading["malloc"] = malloc
        if tracemalloc.is_tracing():
            reading["heap"] = tracemalloc.get_traced_memory()[0]
        if self.images is not None:
            reading["image_bytes"] = self.images.live_bytes()
        reading["fds"] = len(open_fds())
        reading["threads"] = thread_count()
        return reading

    def sample(self) -> dict[str, int]:
        """Settle, then read every measure."""
        self.settle()
        return self.read()

    def calibrate(self) -> dict[str, int]:
        """Settle and record the starting point of :meth:`growth`, with the open fds and threads."""
        self.calibration = self.sample()
        self.fds_at_calibration = open_fds()
        self.threads_at_calibration = live_threads()
        return dict(self.calibration)

    def growth(self) -> dict[str, int]:
        """Each measure's change since :meth:`calibrate` (calibrating first if it never ran)."""
        if self.calibration is None:
            self.calibrate()
        assert self.calibration is not None
        now = self.sample()
        return {key: now[key] - self.calibration[key] for key in now if key in self.calibration}

    def fds_left_open(self) -> list[str]:
        """File descriptors opened since :meth:`calibrate` and still open.

        Standard input, output and error are left out: output capture (pytest's ``--capture=fd``)
        points them elsewhere and back between test phases.
        """
        return left_open(self.fds_at_calibration, open_fds(), "fd", redirected=STANDARD_FDS)

    def threads_left_running(self) -> list[str]:
        """Python threads started since :meth:`calibrate` and still running."""
        return left_open(self.threads_at_calibration, live_threads(), "thread")

    def measure(
        self, fn: Callable[[], object], warmup: int = 3, repeat: int = 5, *, trace_heap: bool = False
    ) -> MeasureResult:
        """Call ``fn`` ``warmup + repeat`` times, settling and reading every measure around each call.

        The result's rows are the table of iterations; :func:`steady_state_verdict` applies the rule.
        ``trace_heap`` starts ``tracemalloc`` (one frame) for the calls when it is not already on, so
        the ``heap`` measure can resolve growth far below RSS's noise floor; it is stopped afterwards.
        """
        if warmup < 0 or repeat < 1:
            raise ValueError(f"warmup must be >= 0 and repeat >= 1, not {warmup} and {repeat}")
        started = trace_heap and not tracemalloc.is_tracing()
        if started:
            tracemalloc.start(1)
        try:
            result = self._measure(fn, warmup, repeat)
        finally:
            if started:
                tracemalloc.stop()
        return dataclasses.replace(result, traced=started)

    def _measure(self, fn: Callable[[], object], warmup: int, repeat: int) -> MeasureResult:
        previous = start = self.sample()
        # Everything alive now is moved to gc's permanent generation, so the collection before each
        # reading walks only what the calls made (1 ms instead of 12-50 ms). Skipped when someone else
        # has frozen objects: unfreezing would undo their freeze.
        frozen = gc.get_freeze_count() == 0
        if frozen:
            gc.freeze()
        rows: list[dict[str, int]] = []
        try:
            for index in range(warmup + repeat):
                fn()
                now = self.sample()
                row = {"iteration": index + 1, "warmup": int(index < warmup)}
                row.update({key: now[key] - previous[key] for key in now if key in previous})
                rows.append(row)
                previous = now
        finally:
            if frozen:
                gc.unfreeze()
        measures = tuple(key for key in (*BYTE_MEASURES, *COUNT_MEASURES) if key in start)
        return MeasureResult(dict(start), rows, warmup, repeat, measures)


# --- the rule ---------------------------------------------------------------------------------------


def _rows_of(samples: MeasureResult | Sequence[Mapping[str, int]]) -> list[dict[str, int]]:
    return [dict(row) for row in (samples.rows if isinstance(samples, MeasureResult) else samples)]


def steady_state_verdict(
    samples: MeasureResult | Sequence[Mapping[str, int]], limit: int, *, traced: bool | None = None
) -> tuple[bool, int, list[dict[str, int]]]:
    """Did memory keep growing by more than ``limit`` bytes per repetition? Returns
    ``(grew, per_iteration, table)``.

    ``samples`` is a :class:`MeasureResult` or its rows: one mapping per call with ``warmup`` (1 for a
    warm-up call) and each measure's growth over that call. The rule, after CPython's ``-R`` refleak
    hunter (warm-up runs discarded; a leak only if every measured run leaks):

    * warm-up rows are ignored, so a cache that fills during warm-up and then stops passes;
    * for each byte measure (``rss``, ``uss``, ``malloc``, ``heap``, ``image_bytes`` -- never the fd
      and thread counts), its threshold is ``max(limit, NOISE_FLOOR[measure])``;
    * the measure grew if its growth was above its threshold in **every** measured row; one measured
      row at or under the threshold (noise, a cache topping up, an arena boundary) clears it;
    * ``grew`` is true if any measure grew. ``per_iteration`` is the steady-state growth: the largest,
      over the byte measures, of that measure's smallest measured growth (the growth seen in every
      repetition); so ``grew`` implies ``per_iteration > limit``.

    * when the calls ran under tracemalloc started for them (``traced``, by default the result's own
      flag), ``rss``, ``uss`` and ``malloc`` are judged at ``max(TRACED_NATIVE_FACTOR * limit, floor)``
      and left out of ``per_iteration``: tracemalloc's bookkeeping inflates them.

    With no measured rows nothing grew and ``per_iteration`` is 0. ``table`` is the rows, unchanged.
    """
    if traced is None:
        traced = isinstance(samples, MeasureResult) and samples.traced
    table = _rows_of(samples)
    measured = [row for row in table if not row.get("warmup", 0)]
    grew = False
    per_iteration = 0
    native_growth = 0  # traced: native growth over its raised threshold
    for measure in BYTE_MEASURES:
        values = [row[measure] for row in measured if measure in row]
        if not values or len(values) != len(measured):
            continue
        smallest = min(values)
        threshold = max(limit, NOISE_FLOOR.get(measure, 0))
        if traced and measure in NATIVE_MEASURES:
            threshold = max(TRACED_NATIVE_FACTOR * limit, NOISE_FLOOR.get(measure, 0))
            if smallest > threshold:
                native_growth = max(native_growth, smallest)
            continue
        per_iteration = max(per_iteration, smallest)
        if smallest > threshold:
            grew = True
    if native_growth and not grew:
        grew, per_iteration = True, max(per_iteration, native_growth)
    return grew, per_iteration, table


# --- the failure text -------------------------------------------------------------------------------


def _signed(value: int) -> str:
    return f"{value:+,}"


def format_growth_table(samples: MeasureResult | Sequence[Mapping[str, int]], limit: int) -> str:
    """The table of iterations, with the verdict line, for a ``max_memory_growth`` failure."""
    table = _rows_of(samples)
    traced = isinstance(samples, MeasureResult) and samples.traced
    grew, per_iteration, _ = steady_state_verdict(table, limit, traced=traced)
    columns = [m for m in (*BYTE_MEASURES, *COUNT_MEASURES) if any(m in row for row in table)]
    header = ["iteration", "run", *columns]
    body = [
        [str(row.get("iteration", number)), "warm-up" if row.get("warmup", 0) else "measured"]
        + [_signed(row[column]) if column in row else "-" for column in columns]
        for number, row in enumerate(table, 1)
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.rjust(width) if i > 1 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *body]
    ]
    measured = sum(1 for row in table if not row.get("warmup", 0))
    verdict = (
        f"memory grew in every one of {measured} measured repetitions: at least {per_iteration:,} bytes "
        f"each, limit {limit:,}"
        if grew
        else f"steady state: growth stayed within the limit ({limit:,} bytes) in at least one measured "
        f"repetition of {measured}; smallest growth {per_iteration:,} bytes"
    )
    return "\n".join(
        [
            "Memory growth per repetition (bytes; fds and threads are counts; each reading follows "
            "gc.collect() and malloc_trim(0)):",
            *(
                [
                    "(tracemalloc traced the calls: the limit is judged on heap; rss, uss and malloc "
                    f"include its bookkeeping and count above {TRACED_NATIVE_FACTOR}x the limit)"
                ]
                if traced
                else []
            ),
            *lines,
            verdict,
        ]
    )
