"""fit and fill: sizes, aspect ratio, crop position, and pixels against Pillow references."""

from __future__ import annotations

import pytest
from PIL import Image, ImageOps
from samples import max_difference, pattern

from glthumbs.scaling import FILTERS, fill, fill_box, fit, fit_size, resampling


@pytest.mark.parametrize(
    ("size", "box", "expected"),
    [
        ((100, 50), (64, 64), (64, 32)),
        ((50, 100), (64, 64), (32, 64)),
        ((10, 10), (64, 32), (32, 32)),
        ((1000, 1), (64, 64), (64, 1)),
        ((1, 1000), (16, 16), (1, 16)),
        ((333, 5), (100, 100), (100, 2)),
    ],
)
def test_fit_size_keeps_aspect_inside_the_box(
    size: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert fit_size(size, box) == expected


def test_fit_size_without_upscale_keeps_small_images() -> None:
    assert fit_size((10, 5), (64, 64), upscale=False) == (10, 5)
    assert fit_size((100, 50), (64, 64), upscale=False) == (64, 32)


def test_fit_size_rejects_empty_sizes() -> None:
    with pytest.raises(ValueError, match="positive"):
        fit_size((0, 5), (10, 10))


@pytest.mark.parametrize("filter_name", sorted(FILTERS))
def test_fit_is_one_pillow_resize_with_the_chosen_filter(filter_name: str) -> None:
    source = pattern((90, 40))
    scaled = fit(source, (30, 30), filter_name)
    assert scaled.size == (30, 13)
    assert max_difference(scaled, source.resize((30, 13), FILTERS[filter_name])) == 0


def test_fill_covers_the_target_and_crops_the_centre() -> None:
    # Left third red, middle third green, right third blue: filling a square keeps the middle.
    source = Image.new("RGBA", (90, 30), (255, 0, 0, 255))
    source.paste((0, 255, 0, 255), (30, 0, 60, 30))
    source.paste((0, 0, 255, 255), (60, 0, 90, 30))
    square = fill(source, (10, 10), "nearest")
    assert square.size == (10, 10)
    assert square.getcolors() == [(100, (0, 255, 0, 255))]
    assert fill_box((90, 30), (10, 10)) == (30.0, 0.0, 60.0, 30.0)
    assert fill_box((30, 90), (10, 10)) == (0.0, 30.0, 30.0, 60.0)


@pytest.mark.parametrize("filter_name", ["bilinear", "lanczos"])
@pytest.mark.parametrize("target", [(16, 16), (40, 10), (7, 29)])
def test_fill_matches_imageops_fit(filter_name: str, target: tuple[int, int]) -> None:
    source = pattern((61, 37))
    expected = ImageOps.fit(source, target, FILTERS[filter_name])
    # Same crop box up to floating-point rounding of its edges: at most one unit per channel.
    assert max_difference(fill(source, target, filter_name), expected) <= 1


def test_resampling_names_and_values() -> None:
    assert resampling("LANCZOS") is Image.Resampling.LANCZOS
    assert resampling(int(Image.Resampling.BOX)) is Image.Resampling.BOX
    with pytest.raises(ValueError, match="unknown filter 'sharp'"):
        resampling("sharp")
