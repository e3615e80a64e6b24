import io

import numpy as np
import pytest
import viewer
from PIL import Image


@pytest.fixture
def frame():
    return Image.new("RGB", (300, 300))


@pytest.fixture(scope="module")
def atlas():
    return Image.new("RGBA", (512, 512))


@pytest.mark.no_image_leak
def test_created_and_dropped():
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), "blue").save(buffer, "PNG")
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGBA").resize((400, 300))
    pixels = np.asarray(image)
    assert Image.fromarray(pixels[::2, ::2].copy()).size == (200, 150)


@pytest.mark.no_image_leak
def test_bounded_cache(frame):
    for side in range(100, 160, 10):
        viewer.thumbnail(frame, (side, side))


@pytest.mark.no_image_leak
def test_function_fixture_image(frame):
    assert frame.size == (300, 300)


@pytest.mark.no_image_leak
def test_module_fixture_image(atlas):
    assert atlas.mode == "RGBA"


@pytest.mark.no_image_leak
def test_module_fixture_image_again(atlas):
    assert atlas.size == (512, 512)
