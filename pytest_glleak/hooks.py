"""Hooks that pytest-glleak adds to pytest (registered through ``pytest_addhooks``)."""

from __future__ import annotations

import pytest


@pytest.hookspec
def pytest_glleak_before_check(item: pytest.Item) -> None:
    """Called after a checked test's teardown, right before its leak check.

    Clear your project's legitimate caches here (decoded-image LRU caches, texture pools...), so that
    whatever is still alive afterwards really is a leak. Objects freed here are not reported.
    """
