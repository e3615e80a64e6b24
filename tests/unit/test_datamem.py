"""Precise image checks through NumPy's data-memory handler: install/restore, threads, shutdown, others'
handlers. Real NumPy allocations, no mocks."""

from __future__ import annotations

import contextvars
import ctypes
import gc
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from pytest_glleak.findings import LeakedImage
from pytest_glleak.heap import ImageTracker, datamem

pytestmark = pytest.mark.skipif(datamem.unavailable() is not None, reason=str(datamem.unavailable()))

KEPT: list[Any] = []


def handler_name() -> str:
    api = datamem._api
    assert api is not None
    name: str = api.get_handler_name()
    return name


@pytest.fixture
def tracker() -> Iterator[ImageTracker]:
    tracker = ImageTracker()
    tracker.install()
    try:
        yield tracker
    finally:
        tracker.uninstall()
        KEPT.clear()


def run_test(tracker: ImageTracker, body: Callable[[], object]) -> list[LeakedImage]:
    token = tracker.start("tests/test_x.py::test_body", min_bytes=65536, precise=True)
    try:
        tracker.set_phase("call")
        body()
        tracker.set_phase("teardown")
        return tracker.leaks(token)
    finally:
        tracker.stop(token)


# --- a second, foreign handler (what another library may have installed), built the same way -----

_LIBC = ctypes.CDLL(None)
_LIBC.malloc.restype = _LIBC.calloc.restype = _LIBC.realloc.restype = ctypes.c_void_p
_LIBC.malloc.argtypes = [ctypes.c_size_t]
_LIBC.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
_LIBC.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_LIBC.free.argtypes = [ctypes.c_void_p]
_FREE_C = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_REALLOC_C = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class ForeignHandler:
    """A counting handler over libc, installed before the plugin's window (kept alive for good)."""

    def __init__(self) -> None:
        self.calls = {"malloc": 0, "calloc": 0, "realloc": 0, "free": 0}
        self.thunks = (
            datamem._MALLOC_C(self._malloc),
            datamem._CALLOC_C(self._calloc),
            _REALLOC_C(self._realloc),
            _FREE_C(self._free),
        )
        self.struct = datamem._Handler()
        self.struct.name = b"foreign_counting"
        self.struct.version = 1
        for field, thunk in zip(("malloc", "calloc", "realloc", "free"), self.thunks, strict=True):
            setattr(self.struct.allocator, field, ctypes.cast(thunk, ctypes.c_void_p).value)
        api = datamem._api
        assert api is not None
        self.capsule = api.capsule_new(ctypes.addressof(self.struct), b"mem_handler", None)

    def _malloc(self, ctx: int | None, size: int) -> int | None:
        self.calls["malloc"] += 1
        address: int | None = _LIBC.malloc(size)
        return address

    def _calloc(self, ctx: int | None, count: int, size: int) -> int | None:
        self.calls["calloc"] += 1
        address: int | None = _LIBC.calloc(count, size)
        return address

    def _realloc(self, ctx: int | None, pointer: int | None, size: int) -> int | None:
        self.calls["realloc"] += 1
        address: int | None = _LIBC.realloc(pointer, size)
        return address

    def _free(self, ctx: int | None, pointer: int | None, size: int) -> None:
        self.calls["free"] += 1
        _LIBC.free(pointer)


_FOREIGN: list[ForeignHandler] = []  # arrays allocated under one must never outlive it


# --- install and restore ----------------------------------------------------------------------------


def test_the_handler_is_ours_only_during_a_precise_window(tracker: ImageTracker) -> None:
    before = handler_name()
    token = tracker.start("t", precise=True)
    try:
        assert handler_name().startswith("pytest_glleak-")
        assert np.ones((300, 300)).base is None
    finally:
        tracker.stop(token)
    assert handler_name() == before
    token = tracker.start("t", precise=False)
    assert handler_name() == before
    tracker.stop(token)


def test_clean_windows_reuse_one_handler(tracker: ImageTracker) -> None:
    gc.collect()
    before = len(datamem._pool)
    for _ in range(20):
        assert run_test(tracker, lambda: np.ones((300, 300)) * 2) == []
    # Later windows find the first entry free again (nothing holds it): the pool does not grow.
    assert len(datamem._pool) <= max(before, 1), [entry.held() for entry in datamem._pool]


def test_a_leak_pins_its_handler_until_the_array_is_freed(tracker: ImageTracker) -> None:
    leaked = run_test(tracker, lambda: KEPT.append(np.ones((300, 300))))
    assert len(leaked) == 1
    pinned = [entry for entry in datamem._pool if entry.held() > 0]
    assert pinned
    # The next test gets another handler: the kept array cannot make it look leaky or clean.
    assert run_test(tracker, lambda: np.ones((300, 300)) * 2) == []
    KEPT.clear()
    gc.collect()
    assert all(entry.held() == 0 for entry in pinned)


def test_derived_arrays_are_caught_with_shape_dtype_and_site(tracker: ImageTracker) -> None:
    source = np.zeros((256, 256, 3), np.uint8)

    def body() -> None:
        KEPT.append(source.astype(np.float32))  # astype
        KEPT.append(source[::2].copy())  # a copy of a slice (98,304 B)
        KEPT.append(source + 1)  # arithmetic
        KEPT.append(np.ones(10))  # small: below min_bytes, never a finding
        scratch = source * 3  # dropped: never a finding
        del scratch

    leaked = run_test(tracker, body)

    found = sorted((item["dtype"], tuple(item["shape"])) for item in leaked)
    assert found == [("float32", (256, 256, 3)), ("uint8", (128, 256, 3)), ("uint8", (256, 256, 3))]
    for item in leaked:
        assert item["create_site"][0]["file"] == __file__
        assert item["create_site"][0]["function"].endswith("body")
        assert item["held_by"] is not None and "KEPT" in item["held_by"]


def test_a_foreign_handler_installed_before_keeps_serving_and_is_restored_exactly(
    tracker: ImageTracker,
) -> None:
    foreign = ForeignHandler()
    _FOREIGN.append(foreign)
    api = datamem._api
    assert api is not None
    previous = api.set_handler(foreign.capsule)
    try:
        leaked = run_test(tracker, lambda: KEPT.append(np.ones((300, 300)) + 1))
        # Theirs allocated (through our wrapper) and is back in place: the same capsule, not a copy.
        assert api.get_handler() is foreign.capsule
        assert foreign.calls["malloc"] + foreign.calls["calloc"] >= 2
        assert [item["shape"] for item in leaked] == [[300, 300]]
        frees = foreign.calls["free"]
        KEPT.clear()  # freed through their free, after our window closed
        gc.collect()  # the verdict's heap walk leaves a frame cycle that still refers to it
        assert foreign.calls["free"] == frees + 1
        KEPT.append(np.ones(100_000))
        KEPT[0].resize(200_000, refcheck=False)  # realloc of an array made outside any window
        assert foreign.calls["realloc"] >= 1
        KEPT.clear()
    finally:
        api.set_handler(previous)


def test_a_handler_the_test_installs_itself_is_left_in_place(tracker: ImageTracker) -> None:
    foreign = ForeignHandler()
    _FOREIGN.append(foreign)
    api = datamem._api
    assert api is not None
    before = api.get_handler()
    token = tracker.start("t", precise=True)
    api.set_handler(foreign.capsule)  # the test's own doing: not ours to undo
    tracker.stop(token)
    try:
        assert api.get_handler() is foreign.capsule
    finally:
        api.set_handler(before)


# --- threads ----------------------------------------------------------------------------------------


def test_allocations_from_threads_in_the_tests_context_are_seen(tracker: ImageTracker) -> None:
    def body() -> None:
        context = contextvars.copy_context()
        worker = threading.Thread(target=context.run, args=(lambda: KEPT.append(np.ones((200, 200))),))
        worker.start()
        worker.join()

    leaked = run_test(tracker, body)

    assert [item["shape"] for item in leaked] == [[200, 200]]


def test_allocations_from_plain_threads_the_test_starts_are_seen(tracker: ImageTracker) -> None:
    def body() -> None:
        worker = threading.Thread(target=lambda: KEPT.append(np.ones((300, 300))))
        worker.start()
        worker.join()

    previous = threading.getprofile()
    leaked = run_test(tracker, body)

    assert [item["shape"] for item in leaked] == [[300, 300]]
    assert threading.getprofile() is previous  # the thread hook is gone with the window


def test_a_plain_thread_that_drops_its_arrays_is_clean(tracker: ImageTracker) -> None:
    def body() -> None:
        worker = threading.Thread(target=lambda: (np.ones((300, 300)) * 2).sum())
        worker.start()
        worker.join()

    assert run_test(tracker, body) == []


def test_many_threads_allocating_during_a_window_are_safe(tracker: ImageTracker) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def churn(context: contextvars.Context | None) -> None:
        try:
            while not stop.is_set():
                if context is None:
                    (np.ones((200, 200)) * 2).sum()
                else:
                    context.run(lambda: (np.ones((200, 200)) * 2).sum())
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def body() -> None:
        workers = [
            threading.Thread(target=churn, args=(contextvars.copy_context() if n % 2 else None,))
            for n in range(4)
        ]
        for worker in workers:
            worker.start()
        for _ in range(200):
            (np.zeros((128, 128)) + 1).sum()
        stop.set()
        for worker in workers:
            worker.join()

    assert run_test(tracker, body) == []
    assert errors == []


# --- interpreter shutdown -----------------------------------------------------------------------------

_AT_EXIT = """
import atexit, sys, threading
import numpy as np
from pytest_glleak.heap import ImageTracker

tracker = ImageTracker()
tracker.install()
token = tracker.start("t", precise=True)
KEPT = np.ones((300, 300))
DERIVED = (KEPT * 2)[::2]
GROWN = np.ones(100_000)
DAEMON_STOP = threading.Event()

def churn():
    while True:
        np.ones((100, 100)) * 2

if "{how}" == "daemon":
    threading.Thread(target=churn, daemon=True).start()
if "{how}" != "left-open":
    tracker.stop(token)
    tracker.uninstall()
GROWN.resize(300_000, refcheck=False)  # realloc through the handler the array was made under
atexit.register(lambda: globals().update(KEPT=KEPT.copy()))
print("ok")
"""


@pytest.mark.parametrize("how", ["uninstalled", "left-open", "daemon"])
def test_arrays_made_under_the_handler_are_freed_safely_at_interpreter_exit(how: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_AT_EXIT.replace("{how}", how))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert "Fatal" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_handler_of_an_unknown_version_falls_back_to_tracemalloc(tracker: ImageTracker) -> None:
    foreign = ForeignHandler()
    foreign.struct.version = 2  # a layout this plugin does not know: never wrapped
    _FOREIGN.append(foreign)
    api = datamem._api
    assert api is not None
    previous = api.set_handler(foreign.capsule)
    try:
        token = tracker.start("t", precise=True)
        try:
            assert api.get_handler() is foreign.capsule
            assert token.data_window is None and tracemalloc.is_tracing()
        finally:
            tracker.stop(token)
        leaked = run_test(tracker, lambda: KEPT.append(np.ones((300, 300)) + 1))
        assert [item["shape"] for item in leaked] == [[300, 300]]
        KEPT.clear()
        gc.collect()
    finally:
        api.set_handler(previous)
