import io

import numpy as np
from PIL import Image

FRAMES = []


def png(size):
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, "PNG")
    return buffer.getvalue()


PNG = png((300, 200))


def test_copy_kept_in_list():
    FRAMES.append(np.array(Image.open(io.BytesIO(PNG))))  # CREATE:copy


def test_copies_dropped():
    pixels = np.array(Image.open(io.BytesIO(PNG)))
    scaled = np.asarray(Image.open(io.BytesIO(PNG)), dtype=np.float32) / 255.0
    assert pixels.shape == (200, 300, 3) and scaled.max() == 1.0
