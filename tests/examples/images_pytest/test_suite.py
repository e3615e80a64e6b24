import io

import numpy as np
import pytest
from PIL import Image

CACHE = {}
FRAMES = []

def decode(size):
    return Image.new("RGB", size, "blue")

@pytest.fixture
def frame():
    return decode((64, 64))

@pytest.fixture(scope="module")
def atlas():
    return decode((128, 128))

def test_clean(frame, atlas):
    image = frame.convert("L").resize((32, 32))
    assert np.asarray(image).shape == (32, 32)

def test_leaks_to_module_dict():
    CACHE["hero"] = decode((200, 100))

def test_leaks_array_in_list():
    FRAMES.append(np.asarray(decode((300, 300))))

@pytest.mark.precise
def test_leaks_numpy_copy():
    FRAMES.append(np.array(decode((300, 300))))

def test_no_images():
    assert sum(range(10)) == 45

@pytest.fixture(scope="module")
def lut():
    return np.ones((300, 300))

@pytest.mark.precise
def test_precise_with_module_fixture_array(lut):
    scaled = lut * 2  # a 720 KB temporary, freed
    assert scaled.sum() > 0
