"""Issue 12, repro 07: code run by exec() or runpy is the test's own code, not import-time code."""

import pathlib
import runpy

import pytest
from PIL import Image

CACHE = []


@pytest.mark.no_image_leak
def test_exec_leak():
    exec("CACHE.append(Image.new('RGBA', (300, 300)))")


@pytest.mark.no_image_leak
def test_runpy_leak():
    runpy.run_path(str(pathlib.Path(__file__).with_name("script.py")), init_globals={"CACHE": CACHE})


@pytest.mark.no_image_leak
def test_direct_leak():
    CACHE.append(Image.new("RGBA", (300, 300)))


@pytest.mark.no_image_leak
def test_exec_clean():
    exec("Image.new('RGBA', (300, 300))")
