"""Decoded-image-buffer tracking: Pillow images, NumPy arrays of pixels, and Pillow's block counters.

No pytest imports: the plugin glue calls :class:`ImageTracker` around each checked test.

How each kind of buffer is seen, and what it costs:

* **Pillow images** (every ``PIL.Image.Image`` that holds pixels, whatever made it: ``open`` + ``load``,
  ``new``, ``convert``, ``resize``, ``copy``, ``frombytes``, plugins, unpickling): the ``Image.im``
  property setter is wrapped, since every path that gives an image its pixel core goes through it
  (Pillow 13 assigns ``_im`` directly only to reset it, and in the CUR plugin). Wrapping
  ``Image.__init__`` instead would also see the blank temporaries ``Image.new`` makes, at twice the
  cost. ``ImageFile.__init__`` is wrapped too, so that a lazily opened file is recorded where it was
  opened and decoding it later does not make it new. Each record holds a weak reference whose callback
  drops the record when the image dies: the registry only ever holds live images, and "is anything
  from this test still alive?" is a walk over the records made since the test started.
* **Arrays made from an image by NumPy** (``np.asarray``, ``np.array``, ``np.asanyarray``,
  ``np.ascontiguousarray``, with or without ``dtype=``/``copy=``): NumPy tries an object's
  ``__array_struct__``, then ``__array_interface__``, then ``__array__``. While installed, the tracker
  adds ``Image.__array_struct__`` (always absent, but it notes the probe) and ``Image.__array__``; its
  ``__array_interface__`` wrapper raises AttributeError only for the lookup that follows a struct probe of
  the same image from the same instruction of the same frame, i.e. NumPy's own probe, so NumPy goes on to
  ``__array__``. Code that reads ``image.__array_interface__`` itself still gets Pillow's dict (its
  ``data`` a memoryview of Pillow's bytes). ``__array__`` builds exactly the array NumPy would make of
  Pillow's interface (same dtype, shape, values, read-only view) and copies it when NumPy asks for a copy,
  so ``np.array(Image.open(p))`` is seen too. A copy is tracked by a weak reference to itself; a view by
  a weak reference to the memoryview every array over those pixels shares (NumPy collapses view bases to
  it), which says exactly when the last such array is gone.
* **Buffers no Python object shows** (an ``ImagingCore`` kept through ``image.im`` without its Image,
  an ``ImageDraw`` outliving its image, a C extension): Pillow's arena counters
  (``Image.core.get_stats()``) give the number of pixel blocks in use; blocks in use after the test
  beyond those of tracked images are reported as ``pillow_blocks``.
* **Any large NumPy array and ``tobytes()`` output** (arrays NumPy makes from a tracked one:
  ``arr[::2].copy()``, ``arr.astype(...)``, arithmetic): NumPy's data allocations are invisible to the
  garbage collector and to cheap hooks, so they are found only in *precise* mode (tests explicitly
  marked ``no_image_leak``): ``tracemalloc`` runs for that one test, and data blocks of ``min_bytes`` or
  more in NumPy's tracemalloc domain, or made by ``Image.tobytes``, that are still alive after the test
  are leaks. The snapshot is skipped when everything traced since the start is smaller than one such
  block.

The clean path never runs a garbage collection: only when a tracked object is still alive (or the
counters or traces say so) does :meth:`ImageTracker.leaks` collect and look again.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import gc
import os
import sys
import tracemalloc
import types
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageFile

from pytest_glleak.findings import Frame, LeakedImage

#: NumPy's tracemalloc domain for array data (``numpy.lib.tracemalloc_domain``).
NUMPY_DOMAIN: int = int(getattr(np.lib, "tracemalloc_domain", 389047))
#: Frames kept per creation site (user frames only).
SITE_FRAMES = 6
#: Frames tracemalloc records per allocation in precise mode. Each frame costs: on a small image test,
#: tracing adds about 0.3 ms with 1 frame, 0.75 ms with 4 and 1 ms with 8. Four reach the test's line
#: through NumPy's or Pillow's Python wrappers in the common cases (``np.pad``, ``np.stack``, ``tobytes``).
TRACE_FRAMES = 4
#: Most ``gc.get_referrers`` scans spent on describing holders in one :meth:`ImageTracker.leaks` call.
HOLDER_SCAN_BUDGET = 24

_SKIP, _KEEP, _STOP = 0, 1, 2
_core: Any = getattr(Image, "core")  # noqa: B009 (Pillow's stubs do not export its C module)


def _package_dir(module: types.ModuleType) -> str:
    return os.path.dirname(os.path.abspath(str(module.__file__))) + os.sep


_SKIPPED_DIRS: tuple[str, ...] = (
    _package_dir(Image),
    _package_dir(np),
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
)
_STOP_MARKERS: tuple[str, ...] = (f"{os.sep}_pytest{os.sep}", f"{os.sep}pluggy{os.sep}")
_OWN_FILE = os.path.abspath(__file__)

# Pixel size by Pillow mode (bytes per pixel in Pillow's storage); everything else is 4.
_PIXEL_SIZE: dict[str, int] = {
    "1": 1,
    "L": 1,
    "P": 1,
    "I;16": 2,
    "I;16L": 2,
    "I;16B": 2,
    "I;16N": 2,
    "BGR;15": 2,
    "BGR;16": 2,
    "BGR;24": 3,
}


def pixel_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes Pillow stores for an image of ``mode`` and ``size`` (lines padded to the pixel size)."""
    return _PIXEL_SIZE.get(mode, 4) * max(size[0], 0) * max(size[1], 0)


def _arena_blocks(core: Any) -> int:
    """Arena blocks Pillow's allocator uses for one image core (see libImaging/Storage.c)."""
    try:
        if core.isblock():
            return 0
        width, height = (int(n) for n in core.size)
        linesize = _PIXEL_SIZE.get(core.mode, 4) * width
    except (AttributeError, TypeError, ValueError):
        return 0
    if linesize <= 0 or height <= 0:
        return 0
    alignment = int(_core.get_alignment())
    aligned = (linesize + alignment - 1) & -alignment
    lines_per_block = max(1, (int(_core.get_block_size()) - (alignment - 1)) // aligned)
    return -(-height // lines_per_block)


def pillow_blocks_in_use() -> int:
    """Pixel blocks Pillow's default arena has handed out and not taken back (cached blocks excluded)."""
    stats: dict[str, int] = _core.get_stats()
    return stats["allocated_blocks"] - stats["freed_blocks"] - stats["blocks_cached"]


# --- creation sites ---------------------------------------------------------------------------------

_code_verdicts: dict[types.CodeType, int] = {}


def _classify(code: types.CodeType) -> int:
    filename = code.co_filename
    if any(marker in filename for marker in _STOP_MARKERS):
        verdict = _STOP
    elif filename.startswith(_SKIPPED_DIRS) or filename.startswith("<frozen "):
        verdict = _SKIP
    else:
        verdict = _KEEP
    _code_verdicts[code] = verdict
    return verdict


#: Raw creation site: (code, last instruction offset) pairs, innermost first. The line number is worked
#: out only when a site is reported (``frame.f_lineno`` costs twice ``f_lasti`` on the hot path).
RawSite = tuple[tuple[types.CodeType, int], ...]


def capture_site(frame: types.FrameType | None) -> RawSite:
    """Raw (code, offset) pairs of the user frames from ``frame`` outwards, innermost first.

    Pillow, NumPy and pytest-glleak frames are skipped; the walk stops at pytest's and pluggy's own
    frames, past which nothing is the test's code.
    """
    site: list[tuple[types.CodeType, int]] = []
    verdict_of = _code_verdicts.get
    while frame is not None:
        code = frame.f_code
        verdict = verdict_of(code)
        if verdict is None:
            verdict = _classify(code)
        if verdict:
            if verdict == _STOP:
                break
            site.append((code, frame.f_lasti))
            if len(site) == SITE_FRAMES:
                break
        frame = frame.f_back
    return tuple(site)


def _made_at_import(site: RawSite) -> bool:
    """Whether a module's top-level code made it: a module imported during the test (an icon decoded
    into a global at import time), which lives as long as the module, like a session fixture's value."""
    return any(code.co_name == "<module>" for code, _ in site)


def _line_of(code: types.CodeType, offset: int) -> int:
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


def site_frames(site: RawSite) -> list[Frame]:
    """A raw site as the findings' frame dicts."""
    return [
        {
            "file": code.co_filename,
            "line": _line_of(code, offset),
            "function": getattr(code, "co_qualname", code.co_name),
        }
        for code, offset in site
    ]


@functools.lru_cache(maxsize=64)
def _functions_in(filename: str) -> tuple[tuple[int, int, str], ...]:
    try:
        with open(filename, encoding="utf-8") as source:
            tree = ast.parse(source.read(), filename)
    except (OSError, SyntaxError, ValueError):
        return ()
    spans: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Lambda):  # a module-level lambda runs later, not at import
                name = f"{prefix}<lambda>"
                spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.<locals>.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, f"{name}.<locals>." if not isinstance(child, ast.ClassDef) else f"{name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return tuple(spans)


def _function_at(filename: str, line: int) -> str:
    best = "<module>"
    best_span = None
    for first, last, name in _functions_in(filename):
        if first <= line <= last and (best_span is None or last - first < best_span):
            best, best_span = name, last - first
    return best


def _traced_at_import(traceback: tracemalloc.Traceback) -> bool:
    """:func:`_made_at_import` for a tracemalloc traceback."""
    for frame in traceback:
        filename = frame.filename
        if filename.startswith(_SKIPPED_DIRS) or filename.startswith("<") or not os.path.isfile(filename):
            continue
        if _function_at(filename, frame.lineno) == "<module>":
            return True
    return False


def traceback_frames(traceback: tracemalloc.Traceback | None) -> list[Frame]:
    """A tracemalloc traceback (oldest first) as user frames, innermost first."""
    if traceback is None:
        return []
    frames: list[Frame] = []
    library: list[Frame] = []
    for frame in reversed(traceback):
        filename = frame.filename
        if any(marker in filename for marker in _STOP_MARKERS):
            break
        entry: Frame = {
            "file": filename,
            "line": frame.lineno,
            "function": _function_at(filename, frame.lineno),
        }
        if filename.startswith(_SKIPPED_DIRS) or filename.startswith("<frozen "):
            library.append(entry)
            continue
        frames.append(entry)
        if len(frames) >= SITE_FRAMES:
            break
    # Only library frames within the traced depth (TRACE_FRAMES): those say more than nothing.
    return frames or library[:SITE_FRAMES]


# --- the registry -----------------------------------------------------------------------------------


class _Ref(weakref.ref):  # type: ignore[type-arg]
    __slots__ = ("key",)
    key: int


class TrackedBuffer:
    """One live tracked object: a Pillow image, or a memoryview that NumPy arrays over an image share."""

    __slots__ = ("core_seq", "kind", "nbytes", "owned", "phase", "ref", "seq", "shape", "site", "typestr")

    def __init__(self, ref: _Ref, seq: int, kind: str, site: RawSite, phase: str, core_seq: int) -> None:
        self.ref = ref
        self.seq = seq
        self.kind = kind  # "pil_image" or "ndarray"
        self.site = site
        self.phase = phase
        self.core_seq = core_seq  # event number of the last pixel core attached (pil_image)
        self.shape: tuple[int, ...] = ()  # ndarray
        self.typestr = ""  # ndarray
        self.nbytes = 0  # ndarray
        self.owned = False  # ndarray: the record's object is the array owning its pixels (a copy)


#: A group of identical live blocks in a tracemalloc snapshot: (domain, size, traceback).
TraceKey = tuple[int, int, tracemalloc.Traceback]


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
    stopped: bool = False


@dataclasses.dataclass(eq=False, slots=True)
class _Suspect:
    """A leaked buffer while the verdict is assembled (holds the object strongly, briefly)."""

    kind: str
    obj: Any
    record: TrackedBuffer | None
    nbytes: int
    finding: LeakedImage


class ImageTracker:
    """Weak-reference registry of decoded image buffers, with a cheap per-test verdict.

    ``install()`` once (the plugin does it at configure time), then around each checked test::

        token = tracker.start(nodeid, min_bytes=65536, precise=marked)
        tracker.set_phase("call"); ...; tracker.set_phase("teardown")
        leaked = tracker.leaks(token, allow=0)   # after teardown and the before-check hook
        tracker.stop(token)

    ``uninstall()`` restores Pillow and stops anything the tracker started.
    """

    def __init__(self) -> None:
        self.phase = "setup"
        self._live: dict[int, TrackedBuffer] = {}
        self._seq = 0
        self._created = 0
        self._installed: list[tuple[Any, str, Any]] = []
        self._wrappers: list[object] = []
        self._drop = self._on_dead
        self._active: TrackingToken | None = None
        self._tobytes_lines: frozenset[tuple[str, int]] = frozenset()
        self._scans = ReferrerScans(0)

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
        # Another tracker's wrappers may already be there (the plugin's, while a test drives its own
        # tracker): this one wraps them, so both see every image; uninstall must then go in reverse.
        original_im = Image.Image.__dict__["im"]
        original_interface = Image.Image.__dict__["__array_interface__"]
        tracker = self
        live = self._live
        drop = self._drop
        store = original_im.fset

        # Every decoded image gets its pixels through this setter: Image.new/_new (convert, resize,
        # copy, crop...), ImageFile.load, frombytes, unpickling. One record per image, at its first core.
        def set_im(image: Any, core: Any) -> None:
            store(image, core)
            if type(core) is not _CORE_TYPE:
                return
            tracker._seq += 1
            key = id(image)
            record = live.get(key)
            if record is not None:
                record.core_seq = tracker._seq
                return
            ref = _Ref(image, drop)
            ref.key = key
            tracker._created += 1
            live[key] = TrackedBuffer(
                ref, tracker._seq, "pil_image", capture_site(sys._getframe(1)), tracker.phase, tracker._seq
            )

        # A lazily opened file has no core until load(): record it at open, so that decoding it later
        # (say, in a test using a session fixture's image) is not taken for a new image.
        original_file_init = ImageFile.ImageFile.__dict__["__init__"]

        @functools.wraps(original_file_init)
        def file_init(image: Any, *args: Any, **kwargs: Any) -> None:
            original_file_init(image, *args, **kwargs)
            key = id(image)
            if key not in live:
                tracker._seq += 1
                ref = _Ref(image, drop)
                ref.key = key
                tracker._created += 1
                live[key] = TrackedBuffer(
                    ref, tracker._seq, "pil_image", capture_site(sys._getframe(1)), tracker.phase, -1
                )

        def array_struct(image: Any) -> Any:
            # NumPy looks up __array_struct__ then __array_interface__ on the same instance, from the
            # same call, before trying __array__: remember this probe so the interface lookup that follows
            # can step aside (see array_interface). Pillow defines no __array_struct__: always absent.
            frame = sys._getframe(1)
            _numpy_probe[0] = (id(image), id(frame), frame.f_lasti)
            raise AttributeError("__array_struct__")

        def array_interface(image: Any) -> Any:
            probe = _numpy_probe[0]
            if probe is not None:
                _numpy_probe[0] = None
                frame = sys._getframe(1)
                if probe == (id(image), id(frame), frame.f_lasti):
                    # NumPy's probe (struct then interface from one instruction): send it on to
                    # __array__, which builds the array here and tracks it, copy included.
                    raise AttributeError("__array_interface__")
            interface = original_interface.fget(image)
            pixels = interface.get("data")
            if type(pixels) is bytes:
                pixels = interface["data"] = memoryview(pixels)
            if type(pixels) is memoryview:
                tracker._track_view(pixels, interface, sys._getframe(1))
            return interface

        # Another tracker's __array__ (stacked trackers): call it, so that both track the result.
        previous_array = Image.Image.__dict__.get("__array__", _ABSENT)
        previous_struct = Image.Image.__dict__.get("__array_struct__", _ABSENT)
        build = previous_array if previous_array is not _ABSENT else None
        pillow_interface = original_interface.fget

        def to_array(image: Any, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
            """NumPy's conversion while pytest-glleak tracks images: Pillow's pixels, tracked."""
            _numpy_probe[0] = None
            if build is not None:
                result: np.ndarray[Any, Any] = build(image, dtype, copy)
            else:
                interface = pillow_interface(image)
                pixels = interface.get("data")
                if type(pixels) is bytes:
                    interface["data"] = memoryview(pixels)
                view = np.asarray(_Interface(interface))  # exactly what NumPy makes of Pillow's interface
                if copy:
                    result = np.array(view, dtype=dtype, copy=True)
                elif dtype is not None and np.dtype(dtype) != view.dtype:
                    if copy is False:
                        raise ValueError("Unable to avoid copy while creating an array as requested.")
                    result = view.astype(dtype)
                else:
                    result = view
            tracker._track_array(result, sys._getframe(1))
            return result

        self._installed = [
            (Image.Image, "im", original_im),
            (Image.Image, "__array_interface__", original_interface),
            (ImageFile.ImageFile, "__init__", original_file_init),
            (Image.Image, "__array_struct__", previous_struct),
            (Image.Image, "__array__", previous_array),
        ]
        self._wrappers = [
            property(original_im.fget, set_im, original_im.fdel, original_im.__doc__),
            property(array_interface, doc=original_interface.__doc__),
            file_init,
            property(array_struct),
            to_array,
        ]
        for (cls, name, _), wrapper in zip(self._installed, self._wrappers, strict=True):
            setattr(cls, name, wrapper)
        code = Image.Image.tobytes.__code__
        self._tobytes_lines = frozenset(
            (code.co_filename, line) for _, _, line in code.co_lines() if line is not None
        )

    def uninstall(self) -> None:
        """Restore Pillow, stop a tracemalloc this tracker started, forget every record.

        Raises RuntimeError if a tracker installed after this one is still installed.
        """
        for (cls, name, _), wrapper in zip(self._installed, self._wrappers, strict=True):
            if cls.__dict__.get(name) is not wrapper:
                raise RuntimeError(
                    f"{cls.__name__}.{name} was wrapped again after this tracker; uninstall that first"
                )
        for cls, name, original in reversed(self._installed):
            if original is _ABSENT:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        _numpy_probe[0] = None
        self._installed = []
        self._wrappers = []
        if self._active is not None:
            self.stop(self._active)
        self._live.clear()

    # --- recording (the hot path: keep it small) -------------------------------------------------
    def _on_dead(self, ref: _Ref) -> None:
        self._live.pop(ref.key, None)

    def _track_view(self, view: memoryview, interface: dict[str, Any], frame: types.FrameType) -> None:
        key = id(view)
        ref = _Ref(view, self._drop)
        ref.key = key
        self._seq += 1
        self._created += 1
        record = TrackedBuffer(ref, self._seq, "ndarray", capture_site(frame), self.phase, -1)
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
        ref = _Ref(target, self._drop)
        ref.key = key
        self._seq += 1
        self._created += 1
        record = TrackedBuffer(ref, self._seq, "ndarray", capture_site(frame), self.phase, -1)
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
        if token is not None and token.precise and tracemalloc.is_tracing():
            entering, leaving = phase.startswith("fixture:"), self.phase.startswith("fixture:")
            if entering and not leaving:
                token.fixture_snapshot = _large_traces(
                    tracemalloc.take_snapshot(), token.min_bytes, self._tobytes_lines
                )
            elif leaving and not entering and token.fixture_snapshot is not None:
                after = _large_traces(tracemalloc.take_snapshot(), token.min_bytes, self._tobytes_lines)
                for key, count in after.items():
                    grown = count - token.fixture_snapshot.get(key, 0)
                    if grown > 0:
                        token.fixture_traces[key] = token.fixture_traces.get(key, 0) + grown
                token.fixture_snapshot = None
        self.phase = phase

    def start(self, test_nodeid: str, min_bytes: int = 65536, precise: bool = False) -> TrackingToken:
        """Open a test's window; ``precise`` also traces NumPy and ``tobytes`` allocations (tracemalloc)."""
        if self._active is not None and not self._active.stopped:
            self.stop(self._active)
        self.phase = "setup"
        token = TrackingToken(
            test_nodeid, self._seq, self._created, pillow_blocks_in_use(), min_bytes, precise
        )
        if precise:
            if tracemalloc.is_tracing():
                token.traces_before = _large_traces(
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
        if token.owns_tracemalloc and tracemalloc.is_tracing():
            tracemalloc.stop()
        if self._active is token:
            self._active = None

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
            total += record.nbytes if record.kind == "ndarray" else _image_bytes(obj)
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
        self._scans = ReferrerScans()
        try:
            suspects = self._collect_suspects(token)
            if len(suspects) <= allow:
                return []
            self._describe_holders(suspects)
            findings = [suspect.finding for suspect in suspects[allow:]]
            suspects.clear()
            return findings
        finally:
            self._scans = ReferrerScans(0)

    def _leaked_records(self, token: TrackingToken) -> list[TrackedBuffer]:
        leaked = []
        for record in self._since(token):
            if record.phase.startswith("fixture:") or record.ref() is None:
                continue
            if record.kind == "ndarray" and record.nbytes < token.min_bytes:
                continue
            if _made_at_import(record.site):
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
            core = getattr(image, "_im", None) if image is not None else None
            if core is not None and type(core) is _CORE_TYPE:
                cores[id(core)] = _arena_blocks(core)
        return max(0, grown - sum(cores.values()))

    def _suspicious(self, token: TrackingToken) -> bool:
        if self._leaked_records(token) or self._unexplained_blocks(token) > 0:
            return True
        if not (token.precise and tracemalloc.is_tracing()):
            return False
        if token.owns_tracemalloc and tracemalloc.get_traced_memory()[0] < token.min_bytes:
            return False  # every block traced since start, together, is smaller than one large block
        return bool(self._new_traces(token))

    def _new_traces(self, token: TrackingToken) -> dict[TraceKey, int]:
        traces = _large_traces(tracemalloc.take_snapshot(), token.min_bytes, self._tobytes_lines)
        for known in (token.traces_before, token.fixture_traces):
            for key, count in (known or {}).items():
                if key in traces:
                    traces[key] -= count
        traces = {key: count for key, count in traces.items() if count > 0 and not _traced_at_import(key[2])}
        # Image-backed arrays are reported from their own records; drop their tobytes() traces (the
        # traced block is the whole bytes object: its pixels plus the object header).
        # Copies made by Image.__array__ are reported from their records too: drop their NumPy trace.
        for record in self._since(token):
            if record.kind == "ndarray" and record.ref() is not None:
                domain, size = (
                    (NUMPY_DOMAIN, record.nbytes) if record.owned else (0, record.nbytes + _BYTES_HEADER)
                )
                for key in traces:
                    if key[0] == domain and key[1] == size and traces[key] > 0:
                        traces[key] -= 1
                        break
        return {key: count for key, count in traces.items() if count > 0}

    def _collect_suspects(self, token: TrackingToken) -> list[_Suspect]:
        suspects: list[_Suspect] = []
        views: dict[int, _Suspect] = {}
        for record in self._leaked_records(token):
            obj = record.ref()
            if obj is None:
                continue
            if record.kind == "pil_image":
                finding: LeakedImage = {
                    "kind": "pil_image",
                    "mode": str(obj.mode),
                    "shape": [int(obj.size[0]), int(obj.size[1])],
                    "bytes": _image_bytes(obj),
                    "create_site": site_frames(record.site),
                    "held_by": None,
                    "phase": record.phase,
                }
                suspects.append(_Suspect("pil_image", obj, record, finding["bytes"], finding))
            else:
                finding = {
                    "kind": "ndarray",
                    "dtype": _dtype_name(record.typestr),
                    "shape": list(record.shape),
                    "bytes": record.nbytes,
                    "create_site": site_frames(record.site),
                    "held_by": None,
                    "phase": record.phase,
                }
                suspect = _Suspect("ndarray", obj, record, record.nbytes, finding)
                views[id(obj)] = suspect
                suspects.append(suspect)
        traces = self._new_traces(token) if token.precise and tracemalloc.is_tracing() else {}
        unexplained_blocks = self._unexplained_blocks(token)
        if views or traces or unexplained_blocks:
            scan = _scan_unseen(
                want_arrays=bool(views or traces),
                want_cores=unexplained_blocks > 0,
                known_cores=self._live_cores(),
            )
            for array, holder in scan.arrays:
                owner = _owner(array)
                view_suspect = views.get(id(owner.base) if owner.base is not None else id(owner))
                if view_suspect is not None:
                    view_suspect.obj = array
                    if view_suspect.finding["held_by"] is None:
                        view_suspect.finding["held_by"] = describe_holder(holder, array, self._scans)
                    continue
                if traces and owner.flags.owndata and owner.nbytes >= token.min_bytes:
                    found = self._claim_trace(traces, owner)
                    if found is not None:
                        suspects.append(
                            _Suspect(
                                "ndarray",
                                owner,
                                None,
                                owner.nbytes,
                                {
                                    "kind": "ndarray",
                                    "dtype": str(owner.dtype),
                                    "shape": [int(n) for n in owner.shape],
                                    "bytes": int(owner.nbytes),
                                    "create_site": traceback_frames(found),
                                    "held_by": describe_holder(holder, array, self._scans),
                                },
                            )
                        )
            for (domain, size, traceback), count in traces.items():
                for _ in range(count):
                    kind = "ndarray" if domain == NUMPY_DOMAIN else "bytes"
                    suspects.append(
                        _Suspect(
                            kind,
                            None,
                            None,
                            size,
                            {
                                "kind": kind,
                                "shape": [size],
                                "bytes": size,
                                "create_site": traceback_frames(traceback),
                                "held_by": "not found: no object the garbage collector sees refers to it",
                            },
                        )
                    )
            if unexplained_blocks:
                holders = [
                    f"an orphan image core ({core.mode} {core.size[0]}x{core.size[1]}, no Image wrapper) in "
                    f"{describe_holder(holder, core, self._scans)}"
                    for core, holder in scan.cores[:3]
                ]
                suspects.append(
                    _Suspect(
                        "pillow_blocks",
                        None,
                        None,
                        0,
                        {
                            "kind": "pillow_blocks",
                            "count": unexplained_blocks,
                            "create_site": [],
                            "held_by": (
                                "; ".join(holders)
                                if holders
                                else "not found: an image core kept by C code or an object gc cannot see"
                            ),
                        },
                    )
                )
        return suspects

    def _claim_trace(
        self, traces: dict[TraceKey, int], array: np.ndarray[Any, Any]
    ) -> tracemalloc.Traceback | None:
        object_site = tracemalloc.get_object_traceback(array)
        if object_site is None:
            return None  # the array object predates the window
        fallback = None
        for key, count in traces.items():
            domain, size, traceback = key
            if domain != NUMPY_DOMAIN or size != array.nbytes or count <= 0:
                continue
            if traceback == object_site:
                traces[key] -= 1
                return traceback
            fallback = fallback or key
        if fallback is None:
            return None
        traces[fallback] -= 1
        return fallback[2]

    def _live_cores(self) -> set[int]:
        cores = set()
        for record in self._records():
            image = record.ref() if record.kind == "pil_image" else None
            core = getattr(image, "_im", None) if image is not None else None
            if core is not None:
                cores.add(id(core))
        return cores

    def _describe_holders(self, suspects: list[_Suspect]) -> None:
        budget = self._scans
        for suspect in suspects:
            if suspect.finding.get("held_by") is None and suspect.kind == "pil_image":
                suspect.finding["held_by"] = describe_referrers(suspect.obj, budget, ignore=(suspects,))


_CORE_TYPE = type(_core.new("L", (1, 1)))
#: Marks an attribute Pillow does not define (removed again on uninstall).
_ABSENT: Any = object()
#: The last ``__array_struct__`` lookup on an image: (id(image), id(caller frame), caller's f_lasti).
_numpy_probe: list[tuple[int, int, int] | None] = [None]


class _Interface:
    """An object NumPy converts through the ``__array_interface__`` it holds (Pillow's, unchanged)."""

    __slots__ = ("__array_interface__",)

    def __init__(self, interface: dict[str, Any]) -> None:
        self.__array_interface__ = interface


#: Bytes a ``bytes`` object's allocation takes beyond its contents (header and trailing NUL).
_BYTES_HEADER = sys.getsizeof(b"")


def _dtype_name(typestr: str) -> str:
    try:
        return str(np.dtype(typestr))
    except TypeError:
        return typestr


def _image_bytes(image: Any) -> int:
    core = getattr(image, "_im", None)
    if core is None or type(core) is not _CORE_TYPE:
        return 0  # not decoded yet (lazy open) or closed
    return pixel_bytes(core.mode, core.size)


def _owner(array: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _large_traces(
    snapshot: tracemalloc.Snapshot, min_bytes: int, tobytes_lines: frozenset[tuple[str, int]]
) -> dict[TraceKey, int]:
    """Live blocks of ``min_bytes`` or more: NumPy array data, and bytes made by ``Image.tobytes``."""
    found: dict[TraceKey, int] = {}
    for trace in snapshot.traces:
        size = trace.size
        if size < min_bytes:
            continue
        domain = trace.domain
        if domain != NUMPY_DOMAIN:
            innermost = trace.traceback[-1]
            if domain != 0 or (innermost.filename, innermost.lineno) not in tobytes_lines:
                continue
        key = (domain, size, trace.traceback)
        found[key] = found.get(key, 0) + 1
    return found


# --- finding objects the garbage collector does not track -------------------------------------------


@dataclasses.dataclass
class _Unseen:
    arrays: list[tuple[np.ndarray[Any, Any], object]]
    cores: list[tuple[Any, object]]


def _scan_unseen(*, want_arrays: bool, want_cores: bool, known_cores: set[int]) -> _Unseen:
    """Arrays and orphan image cores reachable from gc-tracked objects (directly or through an untracked
    dict or tuple), with the container that holds each. A full-heap walk: failure path only.

    Holders are scanned in chunks with one ``gc.get_referents(*chunk)`` each; only a chunk whose
    referents include a wanted type (or an untracked dict or tuple) is walked holder by holder.
    """
    found = _Unseen([], [])
    seen: set[int] = set()
    wanted: dict[type, bool] = {}

    def is_wanted(kind: type) -> bool:
        verdict = wanted.get(kind)
        if verdict is None:
            verdict = wanted[kind] = bool(
                (want_arrays and issubclass(kind, np.ndarray)) or (want_cores and kind is _CORE_TYPE)
            )
        return verdict

    def keep(candidate: object, holder: object) -> None:
        if id(candidate) in seen:
            return
        if type(candidate) is _CORE_TYPE:
            if id(candidate) not in known_cores:
                seen.add(id(candidate))
                found.cores.append((candidate, holder))
        else:
            seen.add(id(candidate))
            found.arrays.append((candidate, holder))  # type: ignore[arg-type]

    here = sys._getframe()
    # A suspect holds its (untracked) array while the verdict is assembled: not a holder to report.
    objects = [holder for holder in gc.get_objects() if holder is not here and type(holder) is not _Suspect]
    get_referents, is_tracked = gc.get_referents, gc.is_tracked
    for start in range(0, len(objects), 256):
        chunk = objects[start : start + 256]
        referents = get_referents(*chunk)
        kinds = set(map(type, referents))
        nested = (
            [
                item
                for item in referents
                if (type(item) is dict or type(item) is tuple) and not is_tracked(item)
            ]
            if (dict in kinds or tuple in kinds)
            else []
        )
        if not any(map(is_wanted, kinds)) and not any(map(is_wanted, set(map(type, get_referents(*nested))))):
            continue
        for holder in chunk:
            for referent in get_referents(holder):
                kind = type(referent)
                if is_wanted(kind):
                    keep(referent, holder)
                elif (kind is dict or kind is tuple) and not is_tracked(referent):
                    for inner in get_referents(referent):
                        if is_wanted(type(inner)):
                            keep(inner, referent)
    return found


# --- what holds a leaked object ---------------------------------------------------------------------


class ReferrerScans:
    """A budget of ``gc.get_referrers`` calls (each one walks the whole heap) and their memo."""

    __slots__ = ("cache", "internal", "remaining")

    def __init__(self, remaining: int = HOLDER_SCAN_BUDGET) -> None:
        self.remaining = remaining
        self.cache: dict[int, tuple[object, list[object]]] = {}
        self.internal: set[int] = {id(self.cache)}  # the memo's own lists and tuples refer to targets too


def _module_dicts() -> dict[int, str]:
    return {id(vars(module)): name for name, module in list(sys.modules.items()) if module is not None}


def _key_of(container: dict[Any, Any], target: object, raw: bool = False) -> str | None:
    for key, value in list(container.items()):
        if value is target:
            return str(key) if raw else repr(key)
        if key is target:
            return "(a key)"
    return None


def describe_holder(holder: object, target: object, budget: ReferrerScans | None = None) -> str:
    """:func:`describe_holder_of` that never raises: odd objects (proxies, C types) give a plain phrase."""
    try:
        return describe_holder_of(holder, target, budget)
    except Exception:  # a best-effort explanation must never break the verdict
        return f"{type(holder).__qualname__} object"


def describe_holder_of(holder: object, target: object, budget: ReferrerScans | None = None) -> str:
    """A short phrase naming ``holder`` (which refers to ``target``) and, a few hops up, what holds it.

    Examples: ``"key 'a' of dict CACHE in module viewer.cache"``, ``"item 0 of list FRAMES in module
    app"``, ``"closure cell 'frame' of load.<locals>.redraw()"``, ``"key (16, 16) of dict, in attribute
    thumbnails of ThumbnailCache instance VIEWER in module app"``.
    """
    budget = budget if budget is not None else ReferrerScans()
    steps: list[str] = []
    current, inner = holder, target
    for _ in range(4):
        phrase, terminal, current = _slot(current, inner, budget)
        steps.append(phrase)
        if terminal:
            break
        parent = _parent_of(current, budget)
        if parent is None:
            break
        modules = _module_dicts()
        if isinstance(parent, dict) and id(parent) in modules:
            steps[-1] += f" {_key_of(parent, current, raw=True)} in module {modules[id(parent)]}"
            break
        inner, current = current, parent
    return ", in ".join(steps)


def _slot(holder: object, target: object, budget: ReferrerScans) -> tuple[str, bool, object]:
    """How ``target`` sits in ``holder``: (phrase, whether to stop climbing, the object to climb from)."""
    if isinstance(holder, dict):
        key = _key_of(holder, target)
        modules = _module_dicts()
        if id(holder) in modules:
            return f"global {_key_of(holder, target, raw=True)} in module {modules[id(holder)]}", True, holder
        owner = _owner_of_dict(holder, budget)
        if owner is not None:
            return (
                f"attribute {_key_of(holder, target, raw=True)} of {type(owner).__qualname__} instance",
                False,
                owner,
            )
        return (f"key {key} of dict" if key is not None else "dict"), False, holder
    if isinstance(holder, (list, tuple)):
        index = next((i for i, item in enumerate(holder) if item is target), None)
        kind = type(holder).__name__
        return (f"item {index} of {kind}" if index is not None else kind), False, holder
    if isinstance(holder, types.CellType):
        return _describe_cell(holder, budget), True, holder
    if isinstance(holder, types.FrameType):
        names = [name for name, value in holder.f_locals.items() if value is target]
        code = holder.f_code
        local = f"local {names[0]} of " if names else "frame of "
        where = f"{code.co_filename}:{holder.f_lineno}"
        return f"{local}{getattr(code, 'co_qualname', code.co_name)}() at {where}", True, holder
    if type(holder).__name__ == "_lru_cache_wrapper":
        return f"functools.lru_cache of {getattr(holder, '__qualname__', '?')}()", True, holder
    names = [name for name, value in getattr(holder, "__dict__", {}).items() if value is target]
    kind = f"{type(holder).__qualname__} instance"
    return (f"attribute {names[0]} of {kind}" if names else kind), False, holder


def _owner_of_dict(container: dict[Any, Any], budget: ReferrerScans) -> object | None:
    for referrer in _referrers(container, budget):
        if getattr(referrer, "__dict__", None) is container and not isinstance(referrer, types.ModuleType):
            return referrer
    return None


def _parent_of(holder: object, budget: ReferrerScans) -> object | None:
    """The most telling referrer of ``holder``: a module's globals first, then containers."""
    parents = [
        parent
        for parent in _referrers(holder, budget)
        if not isinstance(parent, (types.FrameType, types.ModuleType))
    ]
    budget.internal.add(id(parents))
    if not parents:
        return None
    modules = _module_dicts()
    return min(
        parents,
        key=lambda parent: -1 if isinstance(parent, dict) and id(parent) in modules else _holder_rank(parent),
    )


def _describe_cell(cell: types.CellType, budget: ReferrerScans) -> str:
    for closure in _referrers(cell, budget):
        if not isinstance(closure, tuple):
            continue
        for function in _referrers(closure, budget):
            if isinstance(function, types.FunctionType) and function.__closure__ is closure:
                name = function.__code__.co_freevars[closure.index(cell)]
                return f"closure cell {name!r} of {function.__qualname__}()"
    return "closure cell"


def _referrers(target: object, budget: ReferrerScans) -> list[object]:
    """``gc.get_referrers`` without this module's own frames and bookkeeping, memoised per ``budget``."""
    known = budget.cache.get(id(target))
    if known is not None and known[0] is target:
        return known[1]
    if budget.remaining <= 0:
        return []
    budget.remaining -= 1
    found = [
        referrer
        for referrer in gc.get_referrers(target)
        if id(referrer) not in budget.internal
        and not isinstance(referrer, (_Suspect, ReferrerScans))
        and not (isinstance(referrer, types.FrameType) and referrer.f_code.co_filename == _OWN_FILE)
    ]
    entry = (target, found)
    budget.internal.update((id(found), id(entry)))
    budget.cache[id(target)] = entry
    return found


def describe_referrers(
    obj: object, budget: ReferrerScans | None = None, ignore: Iterable[object] = ()
) -> str | None:
    """What still refers to ``obj`` (a gc-tracked object), cheaply: a few ``gc.get_referrers`` hops."""
    try:
        return _describe_referrers(obj, budget if budget is not None else ReferrerScans(), ignore)
    except Exception:  # a best-effort explanation must never break the verdict
        return None


def _describe_referrers(obj: object, budget: ReferrerScans, ignore: Iterable[object]) -> str | None:
    ignored = {id(item) for item in ignore}
    candidates = [referrer for referrer in _referrers(obj, budget) if id(referrer) not in ignored]
    budget.internal.add(id(candidates))
    if not candidates:
        return None
    modules = _module_dicts()
    holder = min(
        candidates, key=lambda c: -1 if isinstance(c, dict) and id(c) in modules else _holder_rank(c)
    )
    return describe_holder(holder, obj, budget)


def _holder_rank(referrer: object) -> int:
    if isinstance(referrer, dict):
        return 0
    if isinstance(referrer, (list, types.CellType)):
        return 1
    if isinstance(referrer, types.FrameType):
        return 3
    return 2


# --- the failure text -------------------------------------------------------------------------------


def _format_size(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{nbytes:,} B" if unit == "B" else f"{size:.1f} {unit} ({nbytes:,} B)"
        size /= 1024
    return f"{nbytes:,} B"


def _describe_item(item: LeakedImage) -> str:
    kind = item.get("kind", "?")
    shape = item.get("shape", [])
    if kind == "pil_image":
        dims = "x".join(str(n) for n in shape)
        size = _format_size(item["bytes"]) if item.get("bytes") else "not decoded yet"
        return f"Pillow image {item.get('mode', '?')} {dims}, {size}"
    if kind == "ndarray":
        dims = "x".join(str(n) for n in shape)
        dtype = item.get("dtype")
        what = f"NumPy array {dtype} {dims}" if dtype else "NumPy array data"
        return f"{what}, {_format_size(item.get('bytes', 0))}"
    if kind == "bytes":
        return f"bytes from Image.tobytes(), {_format_size(item.get('bytes', 0))}"
    if kind == "pillow_blocks":
        count = item.get("count", 0)
        return f"{count} Pillow pixel block{'s' if count != 1 else ''} in use that no live Image explains"
    return f"{kind}, {_format_size(item.get('bytes', 0))}"


def format_image_leaks(items: Sequence[LeakedImage]) -> str:
    """The failure text for leaked image buffers: one entry per item, every frame, never truncated."""
    total = sum(item.get("bytes", 0) for item in items)
    lines = [
        f"{len(items)} image buffer{'s' if len(items) != 1 else ''} still alive after teardown "
        f"({_format_size(total)}):"
    ]
    for number, item in enumerate(items, 1):
        phase = item.get("phase")  # type: ignore[misc]
        lines.append(f"  {number}. {_describe_item(item)}" + (f" [created in {phase}]" if phase else ""))
        held_by = item.get("held_by")
        if held_by:
            lines.append(
                f"     holder {held_by}" if held_by.startswith("not found") else f"     held by {held_by}"
            )
        site = item.get("create_site", [])
        if site:
            lines.append("     created at:")
            lines.extend(f"       {frame['file']}:{frame['line']} in {frame['function']}" for frame in site)
        elif item.get("kind") != "pillow_blocks":
            lines.append("     created at: (no user frame recorded)")
    return "\n".join(lines)
