import numpy as np
import pytest
from PIL import Image

KEPT = []


@pytest.mark.no_image_leak
def test_keeps_a_derived_array():
    pixels = np.asarray(Image.new("RGB", (200, 200)))
    KEPT.append(pixels.astype(np.float32))  # DERIVED


@pytest.mark.no_image_leak
def test_keeps_a_pil_image():
    KEPT.append(Image.new("RGBA", (64, 64)))
