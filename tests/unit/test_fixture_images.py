"""ImageTracker's side of wider-scoped fixtures: what their set-up and their threads make is theirs,
checked when they end, never the running test's."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pytest_glleak.heap import ImageTracker

OWNER = "fixture:module:atlas#1"
#: Module-level holder of the "code under test" below; each test empties it.
CACHE: dict[str, Any] = {}


@pytest.fixture
def tracker() -> Iterator[ImageTracker]:
    tracker = ImageTracker()
    tracker.install()
    try:
        yield tracker
    finally:
        tracker.uninstall()
        CACHE.clear()


def in_thread(body: Callable[[], None]) -> None:
    thread = threading.Thread(target=body)
    thread.start()
    thread.join()


def test_an_image_a_fixture_keeps_in_a_module_cache_is_its_leak(tracker: ImageTracker) -> None:
    tracker.set_phase(OWNER)
    CACHE["atlas"] = Image.new("RGBA", (64, 64))
    dropped = Image.new("RGBA", (64, 64))
    tracker.set_phase("setup")
    token = tracker.start("test_x.py::test_a")
    tracker.set_phase("call")
    assert tracker.leaks(token) == []  # the fixture's, not the test's
    tracker.stop(token)
    del dropped

    [leak] = tracker.fixture_leaks(OWNER)
    assert (leak["kind"], leak["shape"], leak["phase"]) == ("pil_image", [64, 64], "setup")
    assert leak["held_by"] == "key 'atlas' of dict CACHE in module test_fixture_images"
    assert tracker.fixture_leaks("fixture:module:other#2") == []
    CACHE.clear()
    assert tracker.fixture_leaks(OWNER) == []


def test_arrays_below_min_bytes_are_not_a_fixtures_leak(tracker: ImageTracker) -> None:
    tracker.set_phase(OWNER)
    CACHE["small"] = np.asarray(Image.new("L", (16, 16)))
    CACHE["large"] = np.asarray(Image.new("L", (512, 512)))
    tracker.set_phase("setup")

    leaks = tracker.fixture_leaks(OWNER, min_bytes=65536)
    assert [(leak["kind"], leak["shape"]) for leak in leaks] == [("ndarray", [512, 512])]


def test_images_made_by_a_thread_a_fixture_started_are_the_fixtures(tracker: ImageTracker) -> None:
    tracker.thread_owner = lambda: OWNER  # as the ledger says of a thread started in the fixture's set-up
    token = tracker.start("test_x.py::test_a")
    tracker.set_phase("call")
    in_thread(lambda: CACHE.setdefault("thumb", Image.new("RGB", (32, 32))))

    assert tracker.leaks(token) == []
    tracker.stop(token)
    [leak] = tracker.fixture_leaks(OWNER)
    assert (leak["shape"], leak["phase"]) == ([32, 32], "thread")


def test_images_made_by_a_thread_the_test_started_are_the_tests(tracker: ImageTracker) -> None:
    tracker.thread_owner = lambda: "test"
    token = tracker.start("test_x.py::test_a")
    tracker.set_phase("call")
    in_thread(lambda: CACHE.setdefault("thumb", Image.new("RGB", (32, 32))))

    [leak] = tracker.leaks(token)
    assert leak["phase"] == "call"
    tracker.stop(token)
    assert tracker.fixture_leaks(OWNER) == []
