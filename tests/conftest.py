"""Shared fixtures of pytest-glleak's own suite."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

# User projects that e2e tests copy with pytester.copy_example: run by those tests, never collected here.
collect_ignore = ["examples"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The outer run's plugin chose PYOPENGL_PLATFORM; subprocess runs must make their own choice.
    # PYTEST_GLLEAK_PURE_PYTHON is no setting but the implementation under test (tox -e purepython): it stays,
    # so pytester's subprocess runs use the same one as this process.
    for name in list(os.environ):
        if name == "PYTEST_GLLEAK_PURE_PYTHON":
            continue
        if name.startswith("PYTEST_GLLEAK_") or name == "PYOPENGL_PLATFORM":
            monkeypatch.delenv(name)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


@pytest.fixture(scope="session")
def xvfb_display() -> Iterator[str]:
    """A private Xvfb server for the glfw backend; its DISPLAY value (e.g. ':5')."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); needed only for the glfw backend")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        pytest.fail("Xvfb did not report a display number")
    try:
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The suite also runs where pytest-xdist is absent (a plain install): those runs skip xdist tests.
    if importlib.util.find_spec("xdist") is not None:
        return
    skip = pytest.mark.skip(reason="pytest-xdist is not installed")
    for item in items:
        if item.get_closest_marker("xdist") is not None:
            item.add_marker(skip)
