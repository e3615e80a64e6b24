"""Where memory grew: the measured repetitions run again under ``tracemalloc``, with the GL ledger and
the image tracker watching, and what grew in every one of them, by creation site.

No pytest imports. Called only once the growth rule has already failed a test (``max_memory_growth``)
or a ``memory_baseline.measure`` result, so passing tests pay nothing. For each repetition:

* **Python and NumPy allocations**: a ``tracemalloc`` snapshot before and after the call (after a full
  garbage collection), diffed with ``Snapshot.compare_to(..., "traceback")`` per domain (Python's own,
  domain 0, and NumPy's data, :data:`~pytest_glleak.heap.precise.NUMPY_DOMAIN`). Each traceback is
  reduced to its user-code frames (:func:`pytest_glleak.sites.classify`: library, plugin and pytest
  frames left out); tracebacks with no user frame (the plugin's own records, pytest's) are dropped.
* **GL objects**: the ledger's live objects created during the call, by kind and creation site, with
  their estimated GPU bytes.
* **Images**: the tracker's live Pillow images and image-backed arrays created during the call, by
  creation site, with what holds them.

A site is reported only when it grew in **every** repetition; its figure is the smallest growth seen
(as the growth rule reads its measures), so a site that grows once and stops is never blamed.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from pytest_glleak import sites
from pytest_glleak.findings import (
    Frame,
    GLGrowth,
    GrowthSite,
    ImageGrowth,
    LeakedImage,
    MemorySection,
)
from pytest_glleak.heap.growth import (
    BYTE_MEASURES,
    LiveImageBytes,
    MeasureResult,
    MemoryBaseline,
    format_growth_table,
    steady_state_verdict,
)
from pytest_glleak.heap.precise import NUMPY_DOMAIN, _function_at

#: Frames tracemalloc records per allocation while diagnosing: enough to reach the user's line through
#: NumPy's and Pillow's Python wrappers and a few helper calls.
DIAGNOSE_FRAMES = 16
#: User frames kept per reported site (the creating line first, then its callers).
SITE_DEPTH = 4
#: Sites reported at most, largest first.
TOP_SITES = 10
#: Python-level growth per repetition at or below this is noise (interned names, small caches).
MIN_SITE_BYTES = 1024

DOMAINS: dict[int, str] = {0: "python", NUMPY_DOMAIN: "numpy"}
_PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
#: Files whose allocations are the diagnosis's own (its snapshots), or have no source.
_SKIPPED_FILES = ("<", tracemalloc.__file__)


class GLMarks(Protocol):
    """What the diagnosis needs from the GL ledger."""

    def mark(self) -> int: ...

    def created_after(self, mark: int, kind: str | None = None) -> Sequence[Any]: ...


@runtime_checkable
class ImageMarks(Protocol):
    """What the diagnosis needs from the image tracker."""

    def mark(self) -> int: ...

    def alive_since(self, mark: int) -> list[LeakedImage]: ...


@dataclasses.dataclass
class GrowthDiagnosis:
    """What grew in every repetition of the rerun, by site, and how much of the growth it explains."""

    repeat: int
    grew_at: list[GrowthSite]
    gl_per_iteration: list[GLGrowth]
    images_per_iteration: list[ImageGrowth]
    #: Python/NumPy bytes per repetition of the listed sites, together.
    explained_per_iteration: int
    #: The measured growth per repetition the diagnosis is set against (``rss`` when measured).
    measured_per_iteration: int
    measured_by: str
    #: Set when the diagnosis could not run (tracemalloc refused, the test raised on the rerun...).
    error: str | None = None


def _user_lines(frames: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """The user frames of a trace's ``(file, line)`` frames (innermost first), at most ``SITE_DEPTH``."""
    if frames and frames[0][0].startswith(_PLUGIN_DIR):
        return ()  # the plugin's own bookkeeping (the measurement, the ledger, the tracker)
    lines: list[tuple[str, int]] = []
    for filename, lineno in frames:
        found = sites.classify(filename)
        if found == sites.RUNNER:
            break
        if found == sites.LIBRARY or filename.startswith(_SKIPPED_FILES):
            continue
        lines.append((filename, lineno))
        if len(lines) >= SITE_DEPTH:
            break
    return tuple(lines)


def _frames(lines: Sequence[tuple[str, int]]) -> list[Frame]:
    return [{"file": file, "line": line, "function": _function_at(file, line)} for file, line in lines]


def _site_key(frames: Sequence[Frame]) -> tuple[tuple[str, int], ...]:
    return tuple((frame["file"], frame["line"]) for frame in frames)


class _Tally:
    """Per-site growth of each repetition: the smallest, and in how many repetitions it grew."""

    def __init__(self) -> None:
        self.reps: dict[Any, list[tuple[int, int]]] = {}
        self.info: dict[Any, Any] = {}

    def add(self, rep: int, key: Any, nbytes: int, count: int, info: Any) -> None:
        rows = self.reps.setdefault(key, [])
        if len(rows) == rep:  # the same key twice in one repetition: add up
            rows.append((nbytes, count))
        elif len(rows) == rep + 1:
            old_bytes, old_count = rows[-1]
            rows[-1] = (old_bytes + nbytes, old_count + count)
        else:
            return  # it did not grow in an earlier repetition: it cannot grow in all of them
        self.info.setdefault(key, info)
        if info is not None:
            self.info[key] = info  # the latest description (what holds it now)

    def every(self, repeat: int) -> list[tuple[Any, int, int, Any]]:
        """``(key, smallest bytes, smallest count, info)`` of the keys that grew in every repetition."""
        found = []
        for key, rows in self.reps.items():
            if len(rows) != repeat or not all(count > 0 or nbytes > 0 for nbytes, count in rows):
                continue
            found.append((key, min(n for n, _ in rows), min(c for _, c in rows), self.info.get(key)))
        return found


#: ``(domain, frames innermost first as (file, line))`` -> ``(bytes, blocks)``.
TraceTotals = dict[tuple[int, tuple[tuple[str, int], ...]], tuple[int, int]]


def _totals(snapshot: tracemalloc.Snapshot) -> TraceTotals:
    """Bytes and blocks per (domain, traceback), for the domains diagnosed, in one pass.

    Reads the snapshot's raw trace tuples where the stdlib keeps them (``Traces._traces``: ``(domain,
    size, frames innermost first, total frames)``), about 5x faster than building a ``Trace`` and a
    ``Traceback`` object per block; falls back to the public objects.
    """
    totals: TraceTotals = {}
    raw = getattr(snapshot.traces, "_traces", None)
    if isinstance(raw, list) and (not raw or (isinstance(raw[0], tuple) and len(raw[0]) >= 3)):
        for trace in raw:
            domain = trace[0]
            if domain not in DOMAINS:
                continue
            key = (domain, trace[2])
            size, count = totals.get(key, (0, 0))
            totals[key] = (size + trace[1], count + 1)
        return totals
    for public in snapshot.traces:
        if public.domain not in DOMAINS:
            continue
        frames = tuple((frame.filename, frame.lineno) for frame in reversed(public.traceback))
        key = (public.domain, frames)
        size, count = totals.get(key, (0, 0))
        totals[key] = (size + public.size, count + 1)
    return totals


def _python_growth(
    before: TraceTotals,
    after: TraceTotals,
    rep: int,
    tally: _Tally,
    lines_of: dict[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]],
) -> None:
    per_site: dict[Any, tuple[int, int]] = {}
    for key in after.keys() | before.keys():
        size_after, count_after = after.get(key, (0, 0))
        size_before, count_before = before.get(key, (0, 0))
        if size_after == size_before:
            continue
        domain, traceback = key
        lines = lines_of.get(traceback)
        if lines is None:
            lines = lines_of[traceback] = _user_lines(traceback)
        if not lines:
            continue
        site = (domain, lines)
        nbytes, count = per_site.get(site, (0, 0))
        per_site[site] = (nbytes + size_after - size_before, count + count_after - count_before)
    for site, (nbytes, count) in per_site.items():
        if nbytes > 0:
            tally.add(rep, site, nbytes, count, None)


def _gl_growth(ledger: GLMarks, mark: int, rep: int, tally: _Tally) -> None:
    for record in ledger.created_after(mark):
        frames = tuple(record.create_site[:SITE_DEPTH])
        tally.add(rep, (record.kind, _site_key(frames)), int(record.nbytes), 1, frames)


def _image_growth(images: ImageMarks, mark: int, rep: int, tally: _Tally) -> None:
    for finding in images.alive_since(mark):
        frames = tuple(finding.get("create_site") or [])[:SITE_DEPTH]
        kind = str(finding.get("kind", "pil_image"))
        tally.add(rep, (kind, _site_key(frames)), int(finding.get("bytes", 0)), 1, finding)


def diagnose(
    fn: Callable[[], object],
    repeat: int,
    measured: dict[str, int],
    ledger: GLMarks | None = None,
    images: ImageMarks | None = None,
) -> GrowthDiagnosis:
    """Call ``fn`` ``repeat`` more times under ``tracemalloc`` and say what grew in every call.

    ``measured`` is the growth rule's steady-state growth per repetition of each measure (a
    :class:`~pytest_glleak.heap.growth.MeasureResult`'s ``per_iteration``); the explained bytes are set
    against the largest byte measure (RSS, or malloc for buffers whose pages were never touched). An
    exception from ``fn`` propagates: it is the test's own.
    """
    byte_measures = {key: value for key, value in measured.items() if key in BYTE_MEASURES}
    measured_by = max(byte_measures, key=lambda key: byte_measures[key], default="rss")
    measured_bytes = int(measured.get(measured_by, 0))
    python, gl, image = _Tally(), _Tally(), _Tally()
    lines_of: dict[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] = {}
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(DIAGNOSE_FRAMES)
    # As the measurement does: what is alive now moves to gc's permanent generation, so each collection
    # walks only what the calls made.
    frozen = gc.get_freeze_count() == 0
    try:
        gc.collect()
        if frozen:
            gc.freeze()
        before = _totals(tracemalloc.take_snapshot())
        for rep in range(repeat):
            gl_mark = ledger.mark() if ledger is not None else 0
            image_mark = images.mark() if images is not None else 0
            fn()
            gc.collect()
            after = _totals(tracemalloc.take_snapshot())
            _python_growth(before, after, rep, python, lines_of)
            before = after
            if ledger is not None:
                _gl_growth(ledger, gl_mark, rep, gl)
            if images is not None:
                if frozen:  # gc.get_referrers does not look in the permanent generation: holders hide there
                    gc.unfreeze()
                _image_growth(images, image_mark, rep, image)
                if frozen:
                    gc.freeze()
    finally:
        if frozen:
            gc.unfreeze()
        if started:
            tracemalloc.stop()
    grew_at: list[GrowthSite] = []
    for (domain, lines), nbytes, count, _ in python.every(repeat):
        if nbytes <= MIN_SITE_BYTES:
            continue
        frames = _frames(lines)
        innermost = frames[0]
        grew_at.append(
            {
                "file": innermost["file"],
                "line": innermost["line"],
                "function": innermost["function"],
                "bytes_per_iteration": nbytes,
                "blocks": count,
                "domain": DOMAINS[domain],
                "stack": frames,
            }
        )
    grew_at.sort(key=lambda site: -site["bytes_per_iteration"])
    gl_rows: list[GLGrowth] = [
        {"kind": kind, "count": count, "bytes": nbytes, "create_site": list(frames)}
        for (kind, _), nbytes, count, frames in gl.every(repeat)
    ]
    gl_rows.sort(key=lambda row: (-row["bytes"], -row["count"]))
    image_rows: list[ImageGrowth] = []
    for (kind, _), nbytes, count, finding in image.every(repeat):
        row: ImageGrowth = {
            "kind": kind,
            "count": count,
            "bytes": nbytes,
            "create_site": list(finding.get("create_site") or [])[:SITE_DEPTH],
            "held_by": finding.get("held_by"),
        }
        for detail in ("mode", "dtype", "shape"):
            if detail in finding:
                row[detail] = finding[detail]
        image_rows.append(row)
    image_rows.sort(key=lambda row: -row["bytes"])
    explained = sum(site["bytes_per_iteration"] for site in grew_at[:TOP_SITES])
    return GrowthDiagnosis(
        repeat=repeat,
        grew_at=grew_at[:TOP_SITES],
        gl_per_iteration=gl_rows[:TOP_SITES],
        images_per_iteration=image_rows[:TOP_SITES],
        explained_per_iteration=explained,
        measured_per_iteration=measured_bytes,
        measured_by=measured_by,
    )


def growth_diagnosis(
    fn: Callable[[], object],
    repeat: int,
    measured: dict[str, int],
    ledger: GLMarks | None = None,
    images: ImageMarks | None = None,
) -> MemorySection:
    """:func:`diagnose` as the ``memory`` findings' keys (plain builtins): ``grew_at``,
    ``gl_per_iteration``, ``images_per_iteration``, ``explained_per_iteration``,
    ``measured_per_iteration``, ``measured_by``; an exception from ``fn`` propagates."""
    found = diagnose(fn, repeat, measured, ledger, images)
    return {
        "grew_at": found.grew_at,
        "gl_per_iteration": found.gl_per_iteration,
        "images_per_iteration": found.images_per_iteration,
        "explained_per_iteration": found.explained_per_iteration,
        "measured_per_iteration": found.measured_per_iteration,
        "measured_by": found.measured_by,
    }


class MemoryGrowthError(AssertionError):
    """``memory_baseline.measure(..., limit=...)`` found growth: the table and where it grew.

    ``result`` is the measurement, ``where`` the diagnosis (the ``memory`` findings' keys).
    """

    def __init__(self, text: str, result: MeasureResult, where: MemorySection) -> None:
        super().__init__(text)
        self.result = result
        self.where = where


class DiagnosingBaseline(MemoryBaseline):
    """The ``memory_baseline`` fixture's type: a :class:`MemoryBaseline` whose :meth:`measure` takes a
    ``limit`` and, when memory grew by more than it in every measured repetition, fails with the table
    and where it grew (allocation sites, GL objects, images), as ``max_memory_growth`` does."""

    def __init__(
        self,
        images: LiveImageBytes | None = None,
        *,
        ledger: GLMarks | None = None,
        describe: Callable[[MemorySection, int], str] | None = None,
        parse_limit: Callable[[Any], int] = int,
        uss: bool = True,
        trim: bool = True,
    ) -> None:
        super().__init__(images, uss=uss, trim=trim)
        self.ledger = ledger
        self.describe = describe
        self.parse_limit = parse_limit
        #: The last diagnosis :meth:`measure` made (None until growth was found).
        self.where: MemorySection | None = None

    def measure(
        self,
        fn: Callable[[], object],
        warmup: int = 3,
        repeat: int = 5,
        limit: int | str | None = None,
        *,
        trace_heap: bool = False,
    ) -> MeasureResult:
        """Call ``fn`` ``warmup + repeat`` times, reading every measure around each call.

        With ``limit`` (bytes, or a string such as ``"256 KiB"``), raise :class:`MemoryGrowthError`
        (an ``AssertionError``) when memory grew by more than it in every measured repetition; the
        measured repetitions then run once more under ``tracemalloc`` to say where it grew.
        """
        result = super().measure(fn, warmup=warmup, repeat=repeat, trace_heap=trace_heap)
        if limit is None:
            return result
        limit_bytes = self.parse_limit(limit)
        grew, _, _ = steady_state_verdict(result, limit_bytes)
        if not grew:
            return result
        images = self.images if isinstance(self.images, ImageMarks) else None
        where = growth_diagnosis(fn, repeat, result.per_iteration, self.ledger, images)
        self.where = where
        text = format_growth_table(result, limit_bytes)
        if self.describe is not None:
            text = f"{text}\n{self.describe(where, repeat)}"
        raise MemoryGrowthError(text, result, where)
