import pytest
from PIL import Image


@pytest.mark.xfail(reason="a known bug", strict=True)
def test_xfail_with_an_image_in_its_locals():
    frame = Image.new("RGB", (300, 300))
    assert frame.size == (1, 1)


def test_failing_with_an_image_in_its_locals():
    frame = Image.new("RGB", (300, 300))
    assert frame.size == (1, 1)


def test_skipped_midway_with_an_image_in_its_locals():
    frame = Image.new("RGB", (300, 300))
    pytest.skip("not today")


def test_imports_a_module_that_decodes_at_import():
    import icons

    assert icons.SPLASH.size == (320, 240)


@pytest.mark.no_image_leak
def test_marked_imports_a_module_that_builds_arrays_at_import():
    import lut

    assert lut.TABLE.shape == (256, 256, 4)
