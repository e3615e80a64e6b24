"""The C accelerator's pure parts against their Python twins: the site capture and the current-context call.

Skipped where ``pytest_glleak._speedups`` is not built (or ``PYTEST_GLLEAK_PURE_PYTHON`` is set); the GL
parts (moderngl's factories and ``release()``) are compared in ``tests/e2e/test_speedups_gl.py``.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from pytest_glleak import sites, speedups

native: Any = speedups.native
pytestmark = pytest.mark.skipif(
    native is None, reason=f"the C accelerator is not in use: {speedups.why_pure}"
)


def _nested(depth: int, *functions: Any) -> list[Any]:
    """Each function called with the same innermost frame, from the same instruction of every frame."""
    if depth:
        return _nested(depth - 1, *functions)
    return [function(sys._getframe()) for function in functions]


def _recorder(ledger: Any, kinds: dict[type, tuple[str, bool, int, str]], **given: Any) -> Any:
    """A C recorder writing into ``ledger``'s tables, as the moderngl hooks build one (``given`` overrides)."""
    from pytest_glleak.ledger.contexts import ContextEntry
    from pytest_glleak.ledger.moderngl_hooks import ModernglObject

    arguments: dict[str, Any] = {
        "ledger": ledger,
        "current": lambda: 7,
        "kinds": kinds,
        "contexts": ledger._contexts,
        "register": ledger._register,
        "live": ledger._live,
        "created": ledger._created,
        "deleted": ledger._deleted,
        "next_seq": ledger._next_seq,
        "record_type": ModernglObject,
        "attribute": "_record",
        "suspended": None,
        "errors": [],
        "state": 1,
        "entry_type": ContextEntry,
    }
    arguments.update(given)
    return native.Recorder(**arguments)


@pytest.mark.parametrize("depth", [1, 2, 3, 6, 8, 9, 64, 65, 200])
def test_the_c_capture_returns_the_very_site_the_python_capture_interns(depth: int) -> None:
    python_site, c_site, again = _nested(
        12,
        lambda frame: sites._capture_python(depth, frame),
        lambda frame: sites.capture(depth, frame),
        lambda frame: sites.capture(depth, frame),
    )
    assert c_site is python_site  # one interned tuple, whichever walked
    assert again is python_site  # a hit of the table of recent sites
    # 13 frames of _nested, the comprehension's own before 3.12 (PEP 709 inlines it), this test's; then
    # pytest's frames end the walk
    frames = 14 + (sys.version_info < (3, 12))
    assert len(c_site) == 2 * min(depth, frames)


def test_the_c_capture_stops_at_the_test_runner_and_skips_library_frames() -> None:
    site = sites.capture(50)
    functions = sites.functions(site)
    assert functions == ["test_the_c_capture_stops_at_the_test_runner_and_skips_library_frames"]


def test_imports_and_odd_arguments_go_to_the_python_capture() -> None:
    python_site, c_site = _nested(
        2,
        lambda frame: sites._capture_python(4, frame, imports=True),
        lambda frame: sites.capture(4, frame, imports=True),
    )
    assert c_site == python_site
    frame = sys._getframe()
    assert sites.capture(0, frame) == () == sites.capture(-3, frame)
    with pytest.raises(TypeError):
        sites.capture("deep", frame)  # type: ignore[arg-type]


def test_a_directory_that_becomes_a_librarys_reclassifies_code_the_c_walk_has_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The C walk remembers each code object's class; refresh_skipped() (a GL library imported late) must
    make it look again, or the same frames would give the same key and the site found before."""
    source = tmp_path / "late_library.py"
    source.write_text("import sys\n\ndef make(capture):\n    return capture(2, sys._getframe())\n")
    spec = importlib.util.spec_from_file_location("late_library", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def captured_after(reclassify: Any) -> list[str]:
        reclassify()
        return sites.functions(module.make(sites.capture))  # the same frames and lines every time

    assert captured_after(lambda: None) == ["make", "captured_after"]
    module_dirs = sites._module_dirs

    def with_the_library(names: Any) -> tuple[str, ...]:
        found: tuple[str, ...] = module_dirs(names)
        return (*found, str(tmp_path) + os.sep) if "moderngl" in names else found

    monkeypatch.setattr(sites, "_module_dirs", with_the_library)
    try:
        assert captured_after(sites.refresh_skipped) == [
            "captured_after",
            "test_a_directory_that_becomes_a_librarys_reclassifies_code_the_c_walk_has_seen",
        ]
    finally:
        monkeypatch.undo()
        sites.refresh_skipped()
    assert captured_after(lambda: None) == ["make", "captured_after"]


def test_forgetting_interned_sites_empties_the_c_table_too() -> None:
    def capture_twice(frame: FrameType) -> tuple[Any, Any]:
        before = sites.capture(3, frame)
        sites._forget_interned()
        return before, sites.capture(3, frame)

    [(before, after)] = _nested(1, capture_twice)
    assert after == before
    assert after is not before  # not served from a table that outlived the intern table
    assert sites._by_id.get(id(after)) is after


def test_current_function_calls_the_c_function_at_the_address() -> None:
    answers = [0x1234, 0]
    callback = ctypes.CFUNCTYPE(ctypes.c_void_p)(lambda: answers[0])
    function = native.current_function(ctypes.cast(callback, ctypes.c_void_p).value)
    assert function() == 0x1234
    answers[0] = 0
    assert function() == 0  # a null pointer is 0, never None
    with pytest.raises(TypeError):
        function(1)
    with pytest.raises(ValueError):
        native.current_function(0)


def test_with_a_driver_pointer_the_function_is_asked_again_only_when_that_pointer_changes() -> None:
    """Mesa's current-context pointer stands for one context while it lives: the same pointer, the same
    answer; another pointer (or none), a context created or destroyed, or another thread: asked again."""
    answers, asked = [0x1000], [0]
    driver = threading.local()

    def answer() -> int:
        asked[0] += 1
        return answers[0]

    function_callback = ctypes.CFUNCTYPE(ctypes.c_void_p)(answer)
    driver_callback = ctypes.CFUNCTYPE(ctypes.c_void_p)(lambda: getattr(driver, "pointer", 0))
    address = ctypes.cast(function_callback, ctypes.c_void_p).value
    function = native.current_function(address, ctypes.cast(driver_callback, ctypes.c_void_p).value)
    assert function.driver_checked and not native.current_function(address).driver_checked

    def calls(count: int) -> tuple[list[int], int]:
        before = asked[0]
        return [function() for _ in range(count)], asked[0] - before

    assert calls(3) == ([0x1000] * 3, 3)  # no driver context current: asked every time
    driver.pointer = 0xA
    assert calls(3) == ([0x1000] * 3, 1)
    answers[0] = 0x2000  # a switch that left the driver's pointer as it was cannot happen; the answer holds
    assert calls(2) == ([0x1000] * 2, 0)
    driver.pointer = 0xB
    assert calls(2) == ([0x2000] * 2, 1)
    answers[0] = 0x3000
    native.forget_contexts()  # a context was created or destroyed
    assert calls(2) == ([0x3000] * 2, 1)

    in_thread: list[tuple[list[int], int]] = []

    def other() -> None:
        driver.pointer = 0xB  # the same pointer, in a thread whose answer was never asked
        in_thread.append(calls(2))

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert in_thread == [([0x3000] * 2, 1)]
    driver.pointer = 0
    assert calls(2) == ([0x3000] * 2, 2)
    with pytest.raises(ValueError):
        native.current_function(address, 0)


def test_counts_kept_in_c_reach_the_ledger_before_it_is_read() -> None:
    from pytest_glleak.ledger import Ledger

    class Made:
        def __init__(self, name: int) -> None:
            self._glo = name

        def release(self) -> None:
            """Release it."""

    ledger = Ledger()
    recorder = _recorder(ledger, {Made: ("buffer", True, 0, "Buffer")})
    ledger._drains.append(recorder.drain)
    make, release = native.Factory(Made, recorder), native.Release(Made.release, recorder)
    mark = ledger.mark()
    kept = [make(name) for name in (1, 2, 3)]
    release(kept[0])
    assert ledger.touched_since(mark)
    assert (ledger.created_since(mark), ledger.deleted_since(mark)) == ({"buffer": 3}, {"buffer": 1})
    later = ledger.mark()
    assert not ledger.touched_since(later)  # counted once
    release(kept[1])
    assert (ledger.created_since(later), ledger.deleted_since(later)) == ({}, {"buffer": 1})
    assert [record.name for record in ledger.live()] == [3]


def test_recorder_rejects_a_record_type_without_the_slots_it_writes() -> None:
    class NotARecord:
        pass

    from pytest_glleak.ledger import Ledger

    ledger = Ledger()
    with pytest.raises((TypeError, AttributeError)):
        _recorder(
            ledger,
            {},
            contexts={},
            live={},
            created={},
            deleted={},
            next_seq=iter(range(10)),
            record_type=NotARecord,
            current=int,
        )


def test_factory_and_release_bind_like_methods_and_keep_the_original() -> None:
    from pytest_glleak.ledger import Ledger

    class Made:
        def __init__(self, name: int) -> None:
            self._glo = name
            self._size = (4, 4)
            self._components = 4
            self._dtype = "f1"
            self._depth = False
            self._samples = 0
            self.released = 0

        def release(self) -> None:
            """Release it."""
            self.released += 1

    class Maker:
        def make(self, name: int) -> Made:
            """Make one."""
            return Made(name)

    ledger = Ledger(stack_depth=2)
    ledger.test, ledger.phase = "t.py::test", "call"
    errors: list[BaseException] = []
    recorder = _recorder(ledger, {Made: ("texture", True, 0, "Texture")}, suspended={}, errors=errors)
    factory = native.Factory(Maker.make, recorder)
    release = native.Release(Made.release, recorder)
    assert (factory.__wrapped__, factory.__name__, factory.__doc__) == (Maker.make, "make", "Make one.")
    Maker.make = factory  # type: ignore[method-assign]
    Made.release = release  # type: ignore[method-assign]
    made = Maker().make(5)  # the creation site
    [record] = ledger.live("texture")
    assert (record.name, record.test, record.phase, record.label, record.nbytes) == (
        5,
        "t.py::test",
        "call",
        "moderngl.Texture 4x4 RGBA8",
        64,
    )
    assert (
        record.create_site[0]["function"]
        == "test_factory_and_release_bind_like_methods_and_keep_the_original"
    )
    assert ledger._contexts[7].group == record.context
    made.release()
    made.release()
    recorder.drain()  # its counts, kept in C until then
    assert (made.released, ledger.live("texture"), ledger._deleted["texture"], errors) == (2, [], 1, [])
    assert ledger._created["texture"] == 1
    Maker().make(0)  # name 0: nothing made, nothing recorded
    assert ledger.live() == []
    for depth, frames in ((0, 0), (100, 1)):  # no site; a depth past the C walk's limit (the Python walk)
        ledger.stack_depth = depth
        deep = Maker().make(6 + depth)
        [record] = ledger.live("texture")
        assert len(record.create_site) == frames
        deep.release()
    ledger.stack_depth = 2
    made_in_thread: list[Made] = []
    thread = threading.Thread(target=lambda: made_in_thread.append(Maker().make(8)))
    thread.start()
    thread.join()
    [record] = ledger.live("texture")
    assert (record.phase, record.owner, record.test, record.thread) == ("thread", "session", "", thread.ident)
    broken = native.Factory(lambda: Made(9), recorder)  # a recorder error never reaches the caller
    ledger.stack_depth = "deep"  # type: ignore[assignment]
    assert broken()._glo == 9
    assert len(errors) == 1 and isinstance(errors[0], TypeError)
