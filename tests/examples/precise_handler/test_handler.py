"""Precise checks through NumPy's data-memory handler: what it catches, what passes, a clean exit."""

import numpy as np
import pytest
from PIL import Image

KEPT = []
AT_EXIT = {}


@pytest.mark.no_image_leak
def test_keeps_tobytes_output():
    KEPT.append(Image.new("RGBA", (200, 200)).tobytes())  # TOBYTES


@pytest.mark.no_image_leak
def test_keeps_an_arithmetic_result():
    KEPT.append(np.ones((300, 300)) * 2)  # ARITHMETIC


@pytest.mark.no_image_leak
def test_derived_arrays_dropped():
    pixels = np.asarray(Image.new("RGB", (200, 200)))
    scaled = pixels.astype(np.float32)[::2].copy() * 2
    assert scaled.shape == (100, 200, 3)
    assert len(Image.new("RGBA", (200, 200)).tobytes()) == 160000


@pytest.mark.no_image_leak
def test_keeps_an_array_until_interpreter_exit():
    # Freed by the interpreter at exit, after the plugin unconfigured: must not crash.
    AT_EXIT["frame"] = np.zeros((256, 256, 4), np.uint8)[::2].copy()  # AT_EXIT
