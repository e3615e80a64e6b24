import io

import numpy as np
import pytest
from PIL import Image

CACHE = {}
FRAMES = []
CALLBACKS = []
CORES = []


def png(size):
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, "PNG")
    return buffer.getvalue()


PNG = png((300, 200))


class ThumbnailCache:
    def __init__(self):
        self.thumbnails = {}

    def get(self, image, size):
        if size not in self.thumbnails:
            self.thumbnails[size] = image.resize(size)  # CREATE:thumbnail
        return self.thumbnails[size]


THUMBNAILS = ThumbnailCache()


@pytest.mark.no_image_leak
def test_module_dict():
    CACHE["hero"] = Image.open(io.BytesIO(PNG)).convert("RGBA")  # CREATE:module_dict


@pytest.mark.no_image_leak
def test_array_in_list():
    image = Image.open(io.BytesIO(PNG))
    FRAMES.append(np.asarray(image))  # CREATE:array_in_list


@pytest.mark.no_image_leak
def test_closure():
    frame = Image.new("L", (256, 256))  # CREATE:closure

    def redraw():
        return frame.getpixel((0, 0))

    CALLBACKS.append(redraw)


@pytest.mark.no_image_leak
def test_unbounded_cache():
    source = Image.open(io.BytesIO(PNG))
    for side in (100, 150, 200):
        THUMBNAILS.get(source, (side, side))  # CREATE:unbounded_cache


@pytest.mark.no_image_leak
def test_pillow_counters():
    # The Image wrapper dies at once; its pixel core (no weakref, no gc) lives on.
    CORES.append(Image.new("RGB", (512, 512)).im)
