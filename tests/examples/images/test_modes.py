import pytest
from PIL import Image

KEPT = []


def test_unmarked_keeps():
    KEPT.append(Image.new("RGB", (300, 300)))  # CREATE:unmarked


@pytest.mark.allow_image_leak("the splash screen is kept for the whole session")
def test_opted_out():
    KEPT.append(Image.new("RGB", (300, 300)))


def test_unmarked_drops():
    assert Image.new("RGB", (300, 300)).convert("L").size == (300, 300)


def test_no_images():
    assert sum(range(4)) == 6
