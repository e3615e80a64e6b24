"""The driver sweep: objects alive in the driver that no hook recorded.

Objects created by C extensions (Qt, a renderer's own module) or plain ctypes never pass through a hooked
binding. A sweep probes glIs* over the low names of each kind, in the plugin's context and in every context
the ledger saw created during the test (made current for the probe, the caller's binding restored after);
sweeps at the test's start, at the start of its call and teardown and at its end show what appeared, and in
which phase. Each swept texture, buffer and renderbuffer is sized by asking the driver (level 0 of a
texture, a buffer's store, a renderbuffer's storage). :class:`LedgerSweeps` makes these methods of the
:class:`~pytest_glleak.ledger.core.Ledger`. No pytest imports.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from pytest_glleak import sites
from pytest_glleak.gl.current import CurrentBinding
from pytest_glleak.ledger import gl_functions, registry
from pytest_glleak.ledger.confirm import current_is_compat
from pytest_glleak.ledger.gl_functions import bound_object, is_function
from pytest_glleak.ledger.records import LIVE, SHARED, LiveObject

if TYPE_CHECKING:
    from pytest_glleak.ledger.contexts import ContextEntry
    from pytest_glleak.ledger.core import Ledger

__all__ = [
    "OUTSIDE_LABEL",
    "LedgerSweeps",
    "Snapshot",
    "driver_sweep",
    "object_bytes",
    "outside_in",
    "outside_since",
    "probe_unhooked",
    "sweep_contexts",
]

#: The label of an object only the driver sweep found.
OUTSIDE_LABEL = "created outside PyOpenGL"

#: What a sweep found, per context (native handle): (kind, name) pairs the driver knows and the ledger
#: does not.
Snapshot = dict[int, frozenset[tuple[str, int]]]


def driver_sweep(
    ledger: Ledger, kinds: Iterable[str] | None = None, margin: int = 64
) -> frozenset[tuple[str, int]]:
    """Names the driver reports alive in the current context that the ledger does not know.

    Probes glIs* on 1 .. (highest name the ledger saw for the kind + ``margin``).
    """
    entry = ledger._entry()
    live = ledger._live
    found: set[tuple[str, int]] = set()
    wanted = [kind for kind in (kinds or registry.KINDS) if kind != "sync"]
    if "display_list" in wanted and not current_is_compat():
        wanted.remove("display_list")  # glIsList in a core context is an error left for the user's code
    highest: dict[str, int] = {}
    for record in live.values():
        if record.name > highest.get(record.kind, 0) and record.kind != "sync":
            highest[record.kind] = record.name
    with ledger.suspended():
        for kind in wanted:
            query = is_function(kind)
            if query is None:
                continue
            for name in range(1, highest.get(kind, 0) + margin + 1):
                try:
                    alive = bool(query(name))
                except Exception:
                    break
                if alive and ledger._key(kind, name, entry) not in live:
                    found.add((kind, name))
    return frozenset(found)


def outside_since(
    ledger: Ledger, before: frozenset[tuple[str, int]], kinds: Iterable[str] | None = None
) -> list[LiveObject]:
    """Objects the driver knows now in the current context but neither the ledger nor the sweep
    ``before`` did (phase unknown, sized by the driver)."""
    entry = ledger._entry()
    after = driver_sweep(ledger, kinds)
    with ledger.suspended():
        return [_outside_record(ledger, entry, kind, name, "") for kind, name in sorted(after - before)]


def sweep_contexts(
    ledger: Ledger, handles: Sequence[int], kinds: Iterable[str] | None = None, margin: int = 64
) -> Snapshot:
    """One :func:`driver_sweep` per context of ``handles`` that can be made current (shared kinds once per
    share group); the context current before is current again after."""
    return {
        entry.handle: driver_sweep(ledger, wanted, margin) for entry, wanted in _each(ledger, handles, kinds)
    }


def outside_in(
    ledger: Ledger,
    handles: Sequence[int],
    before: Snapshot,
    phase_ends: Sequence[tuple[str, Snapshot]] = (),
    last_phase: str = "",
    kinds: Iterable[str] | None = None,
) -> list[LiveObject]:
    """Objects the driver knows now in the contexts of ``handles`` that neither the ledger nor the sweep
    ``before`` knew, each sized by the driver.

    ``phase_ends`` are the sweeps taken at the end of each phase, in order: an object first seen in one of
    them was made in that phase; an object in none of them was made in ``last_phase`` ("" when unknown).
    """
    records: list[LiveObject] = []
    for entry, wanted in _each(ledger, handles, kinds):
        after = driver_sweep(ledger, wanted)
        known = before.get(entry.handle, frozenset())
        with ledger.suspended():
            for kind, name in sorted(after - known):
                phase = last_phase
                for ended, snapshot in phase_ends:
                    if (kind, name) in snapshot.get(entry.handle, ()):
                        phase = ended
                        break
                records.append(_outside_record(ledger, entry, kind, name, phase))
    return records


#: The kinds the cheap probe of :func:`probe_unhooked` asks about.
PROBE_KINDS = ("texture", "buffer", "renderbuffer", "framebuffer", "vertex_array", "sampler", "program")


def probe_unhooked(ledger: Ledger, handles: Sequence[int], window: int = 4) -> frozenset[tuple[str, int]]:
    """A cheap look for objects no hook recorded, in the first context of ``handles`` that can be made
    current, for the common kinds: drivers hand out the lowest free name (Mesa) or the one above the
    highest, so glIs* walks up from 1 and from above the highest name the ledger knows, skipping the names
    the ledger knows, each walk until ``window`` names are free. Compare a probe at the test's start with
    one at its end: a few glIs* calls per kind, no sweep. The binding current before is restored."""
    highest: dict[str, int] = {}
    for record in ledger._live.values():
        if record.name > highest.get(record.kind, 0) and record.kind != "sync":
            highest[record.kind] = record.name
    found: set[tuple[str, int]] = set()
    live = ledger._live
    for entry, kinds in _each(ledger, handles[:1], PROBE_KINDS):
        with ledger.suspended():
            for kind in kinds:
                query = is_function(kind)
                if query is None:
                    continue
                start = 1
                for _ in range(2):
                    name, free = start, 0
                    while free < window:
                        if ledger._key(kind, name, entry) not in live:
                            try:
                                alive = bool(query(name))
                            except Exception:
                                break
                            if alive:
                                found.add((kind, name))
                            else:
                                free += 1
                        name += 1
                    start = max(name, highest.get(kind, 0) + 1)
    return frozenset(found)


class LedgerSweeps:
    """The driver-sweep part of the :class:`~pytest_glleak.ledger.core.Ledger` (a mixin): each method is
    the function of the same name here, given the ledger."""

    def driver_sweep(
        self, kinds: Iterable[str] | None = None, margin: int = 64
    ) -> frozenset[tuple[str, int]]:
        """Names the driver reports alive in the current context that the ledger does not know.

        Probes glIs* on 1 .. (highest name the ledger saw for the kind + ``margin``). Take one sweep at
        test start and pass it to :meth:`outside_since` at the end: objects created by C extensions
        (moderngl, Qt) or plain ctypes, which no PyOpenGL hook sees.
        """
        return driver_sweep(cast("Ledger", self), kinds, margin)

    def outside_since(
        self, before: frozenset[tuple[str, int]], kinds: Iterable[str] | None = None
    ) -> list[LiveObject]:
        """Objects the driver knows now but neither the ledger nor the sweep ``before`` did."""
        return outside_since(cast("Ledger", self), before, kinds)

    def sweep_contexts(
        self, handles: Sequence[int], kinds: Iterable[str] | None = None, margin: int = 64
    ) -> Snapshot:
        """:meth:`driver_sweep` in each known context of ``handles`` that can be made current (a context
        the ledger saw created through EGL is made current without surfaces); the binding current before
        is restored after. Contexts that cannot be made current (destroyed, current in another thread)
        are left out."""
        return sweep_contexts(cast("Ledger", self), handles, kinds, margin)

    def outside_in(
        self,
        handles: Sequence[int],
        before: Snapshot,
        phase_ends: Sequence[tuple[str, Snapshot]] = (),
        last_phase: str = "",
        kinds: Iterable[str] | None = None,
    ) -> list[LiveObject]:
        """Objects the driver knows now in the contexts of ``handles`` that neither the ledger nor the
        sweeps ``before`` knew, with the phase the sweeps ``phase_ends`` tell and the bytes the driver
        reports (see :func:`~pytest_glleak.ledger.sweep.outside_in`)."""
        return outside_in(cast("Ledger", self), handles, before, phase_ends, last_phase, kinds)

    def probe_unhooked(self, handles: Sequence[int], window: int = 4) -> frozenset[tuple[str, int]]:
        """A few glIs* queries for objects no hook recorded (see
        :func:`~pytest_glleak.ledger.sweep.probe_unhooked`): far cheaper than a sweep."""
        return probe_unhooked(cast("Ledger", self), handles, window)


def _outside_record(ledger: Ledger, entry: ContextEntry, kind: str, name: int, phase: str) -> LiveObject:
    """The record of one swept object (the ledger does not keep it); its context must be current."""
    record = LiveObject(
        ledger._key(kind, name, entry),
        kind,
        entry.group if kind in SHARED else entry.handle,
        ledger._next_seq(),
        ledger.test,
        phase,
        "outside",
        sites.EMPTY_SITE,
        LIVE,
        ledger.test_thread,
    )
    record.label = OUTSIDE_LABEL
    size = object_bytes(kind, name)
    if size:
        record.storage = size
    return record


def _each(
    ledger: Ledger, handles: Sequence[int], kinds: Iterable[str] | None
) -> Iterator[tuple[ContextEntry, list[str]]]:
    """Each context of ``handles`` made current in turn, with the kinds to sweep there (shared kinds only
    in the first context of each share group); the binding current before is restored at the end."""
    wanted = [kind for kind in (kinds or registry.KINDS) if kind != "sync"]
    contexts = ledger._contexts
    saved = CurrentBinding.capture(ledger._current, contexts)
    groups: set[int] = set()
    try:
        for handle in dict.fromkeys(handles):
            entry = contexts.get(handle)
            if not handle or entry is None or not _make_current(ledger, entry):
                continue
            here = [kind for kind in wanted if kind not in SHARED or entry.group not in groups]
            groups.add(entry.group)
            yield entry, here
    finally:
        saved.restore()


def _make_current(ledger: Ledger, entry: ContextEntry) -> bool:
    """Make ``entry``'s context current: its registered ``make_current``, else (an EGL context the ledger
    saw created) eglMakeCurrent without surfaces. False when neither works (destroyed, current elsewhere)."""
    current = ledger._current
    handle = entry.handle
    if (current() or 0) == handle:
        return True
    if entry.make_current is not None:
        try:
            entry.make_current()
        except Exception:
            pass
        else:
            if (current() or 0) == handle:
                return True
    display = ledger._egl_displays.get(handle)
    if not display:
        return False
    try:
        from pytest_glleak.gl.egl import egl_library

        egl = egl_library()
        if not egl.eglMakeCurrent(display, None, None, handle):
            egl.eglGetError()  # not left pending for the user's next EGL call
            return False
    except Exception:
        return False
    return (current() or 0) == handle


# --- sizes from the driver -------------------------------------------------------------------------
_INT = ctypes.c_int32
_INT_P = ctypes.POINTER(ctypes.c_int32)
_UINT = ctypes.c_uint32
_GL_TEXTURE_WIDTH = 0x1000
_GL_TEXTURE_HEIGHT = 0x1001
_GL_TEXTURE_INTERNAL_FORMAT = 0x1003
_GL_TEXTURE_DEPTH = 0x8071
_GL_TEXTURE_CUBE_MAP = 0x8513
#: (target, its binding query, the target level queries use): the common targets, most common first.
_TEXTURE_TARGETS = (
    (0x0DE1, 0x8069, 0x0DE1),  # 2D
    (0x8C1A, 0x8C1D, 0x8C1A),  # 2D array
    (0x806F, 0x806A, 0x806F),  # 3D
    (_GL_TEXTURE_CUBE_MAP, 0x8514, 0x8515),  # cube map: its +X face
    (0x0DE0, 0x8068, 0x0DE0),  # 1D
    (0x84F5, 0x84F6, 0x84F5),  # rectangle
    (0x9100, 0x9104, 0x9100),  # 2D multisample
)
_GL_COPY_READ_BUFFER = 0x8F36  # also its binding query
_GL_BUFFER_SIZE = 0x8764
_GL_RENDERBUFFER = 0x8D41
_GL_RENDERBUFFER_BINDING = 0x8CA7
_GL_RENDERBUFFER_WIDTH = 0x8D42
_GL_RENDERBUFFER_HEIGHT = 0x8D43
_GL_RENDERBUFFER_INTERNAL_FORMAT = 0x8D44
_GL_RENDERBUFFER_SAMPLES = 0x8CAB

_FUNCTIONS: dict[str, Any] = {}


def _function(name: str, restype: Any, *argtypes: Any) -> Any:
    """A fresh bare ctypes prototype of ``name`` in the GL library (never PyOpenGL's own objects), or
    None where the library does not export it."""
    try:
        return _FUNCTIONS[name]
    except KeyError:
        pass
    function: Any = None
    try:
        library = gl_functions.platform().GL
        function = ctypes.CFUNCTYPE(restype, *argtypes)((name, library))
    except Exception:
        function = None
    _FUNCTIONS[name] = function
    return function


def object_bytes(kind: str, name: int) -> int:
    """Estimated bytes of object ``name`` of ``kind`` in the current context, asked of the driver: level 0
    of a texture (x6 for a cube map), a buffer's store, a renderbuffer's storage (x samples); 0 for other
    kinds or when the driver cannot say. Every binding changed for the question is restored."""
    get_error = _function("glGetError", _UINT)
    if get_error is None:
        return 0
    try:
        for _ in range(16):  # an error left pending would read as the answer's
            if not get_error():
                break
        if kind == "texture":
            return _texture_bytes(name, get_error)
        if kind == "buffer":
            return _buffer_bytes(name, get_error)
        if kind == "renderbuffer":
            return _renderbuffer_bytes(name, get_error)
    except Exception:
        return 0
    return 0


def _texel_bytes(width: int, height: int, depth: int, internal_format: int) -> int:
    texel = registry.FORMAT_BYTES.get(internal_format, 4)
    return max(width, 0) * max(height, 0) * max(depth, 1) * texel


def _ask_bound(
    bind: Callable[[int, int], None],
    target: int,
    binding: int,
    name: int,
    ask: Callable[[int, Any], None],
    parameters: tuple[int, ...],
    get_error: Callable[[], int],
) -> list[int] | None:
    """Bind ``name`` to ``target``, ``ask`` each of ``parameters``, restore the binding. None when the bind
    failed (not this target: it changed nothing); ``[]`` when the driver answered with an error."""
    previous = bound_object(binding)
    bind(target, name)
    if get_error():
        return None
    value = _INT()
    answers = []
    try:
        for parameter in parameters:
            value.value = 0
            ask(parameter, ctypes.byref(value))
            answers.append(value.value)
    finally:
        bind(target, previous)
    return [] if get_error() else answers


def _texture_bytes(name: int, get_error: Callable[[], int]) -> int:
    bind = _function("glBindTexture", None, _UINT, _UINT)
    level_parameter = _function("glGetTexLevelParameteriv", None, _UINT, _INT, _UINT, _INT_P)
    if bind is None or level_parameter is None:
        return 0
    parameters = (_GL_TEXTURE_WIDTH, _GL_TEXTURE_HEIGHT, _GL_TEXTURE_DEPTH, _GL_TEXTURE_INTERNAL_FORMAT)
    for target, binding, level_target in _TEXTURE_TARGETS:
        answers = _ask_bound(
            bind,
            target,
            binding,
            name,
            functools.partial(level_parameter, level_target, 0),
            parameters,
            get_error,
        )
        if answers is None:
            continue
        if not answers:
            return 0
        width, height, depth, internal_format = answers
        faces = 6 if target == _GL_TEXTURE_CUBE_MAP else 1
        return _texel_bytes(width, height, depth, internal_format) * faces
    return 0


def _buffer_bytes(name: int, get_error: Callable[[], int]) -> int:
    bind = _function("glBindBuffer", None, _UINT, _UINT)
    parameter = _function("glGetBufferParameteriv", None, _UINT, _UINT, _INT_P)
    if bind is None or parameter is None:
        return 0
    target = _GL_COPY_READ_BUFFER  # its binding query has the same value
    answers = _ask_bound(
        bind,
        target,
        target,
        name,
        functools.partial(parameter, target),
        (_GL_BUFFER_SIZE,),
        get_error,
    )
    return max(answers[0], 0) if answers else 0


def _renderbuffer_bytes(name: int, get_error: Callable[[], int]) -> int:
    bind = _function("glBindRenderbuffer", None, _UINT, _UINT)
    parameter = _function("glGetRenderbufferParameteriv", None, _UINT, _UINT, _INT_P)
    if bind is None or parameter is None:
        return 0
    answers = _ask_bound(
        bind,
        _GL_RENDERBUFFER,
        _GL_RENDERBUFFER_BINDING,
        name,
        functools.partial(parameter, _GL_RENDERBUFFER),
        (
            _GL_RENDERBUFFER_WIDTH,
            _GL_RENDERBUFFER_HEIGHT,
            _GL_RENDERBUFFER_INTERNAL_FORMAT,
            _GL_RENDERBUFFER_SAMPLES,
        ),
        get_error,
    )
    if not answers:
        return 0
    width, height, internal_format, samples = answers
    return _texel_bytes(width, height, 1, internal_format) * max(samples, 1)
