"""Contact sheets: layout, pixels against a Pillow-composited reference, labels, caches, flat memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from samples import BLEND_TOLERANCE, max_difference, pattern

from glthumbs.caches import ImageCache, TextureCache
from glthumbs.loading import load_rgba
from glthumbs.sheet import (
    BACKGROUND,
    LABEL_COLOR,
    LABEL_HEIGHT,
    layout_sheet,
    render_contact_sheet,
    thumbnail,
)


def test_layout_geometry() -> None:
    layout = layout_sheet(5, columns=3, thumb=(40, 30), padding=4, labels=True)
    assert (layout.columns, layout.rows) == (3, 2)
    assert layout.size == (3 * 40 + 4 * 4, 2 * (30 + LABEL_HEIGHT) + 3 * 4)
    assert layout.cell(0) == (4, 4, 40, 30)
    assert layout.cell(2) == (4 + 2 * 44, 4, 40, 30)
    assert layout.cell(3) == (4, 4 + 30 + LABEL_HEIGHT + 4, 40, 30)
    assert layout.thumb_rect(0, (20, 30)) == (14, 4, 20, 30)
    assert layout.thumb_rect(4, (40, 11)) == (48, 4 + 48 + 9, 40, 11)
    assert layout.label_rect(1) == (48, 34, 40, LABEL_HEIGHT)
    with pytest.raises(IndexError):
        layout.cell(5)


def test_few_images_make_a_narrower_sheet() -> None:
    assert layout_sheet(2, columns=4, thumb=(10, 10), padding=2).size == (2 * 10 + 3 * 2, 10 + 2 * 2)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"count": 0}, "at least one"),
        ({"count": 1, "columns": 0}, "columns"),
        ({"count": 1, "padding": -1}, "padding"),
    ],
)
def test_layout_rejects_bad_arguments(arguments: dict[str, Any], message: str) -> None:
    count = arguments.pop("count")
    with pytest.raises(ValueError, match=message):
        layout_sheet(count, **arguments)


def reference_sheet(
    paths: list[Path],
    *,
    columns: int,
    thumb: tuple[int, int],
    padding: int,
    scale: str = "fit",
    resample: str = "lanczos",
) -> Image.Image:
    """The sheet composed with Pillow alone: thumbnails alpha-composited over the background."""
    layout = layout_sheet(len(paths), columns=columns, thumb=thumb, padding=padding)
    layer = Image.new("RGBA", layout.size, (0, 0, 0, 0))
    for index, path in enumerate(paths):
        small = thumbnail(load_rgba(path), thumb, resample, scale)
        layer.paste(small, layout.thumb_rect(index, small.size)[:2])
    return Image.alpha_composite(Image.new("RGBA", layout.size, BACKGROUND), layer)


@pytest.mark.parametrize("scale", ["fit", "fill"])
def test_sheet_matches_the_pillow_reference(gl_context: Any, sheet_files: list[Path], scale: str) -> None:
    sheet = render_contact_sheet(sheet_files, columns=3, thumb=(32, 24), padding=5, scale=scale)
    expected = reference_sheet(sheet_files, columns=3, thumb=(32, 24), padding=5, scale=scale)
    assert sheet.size == expected.size == (3 * 32 + 4 * 5, 2 * 24 + 3 * 5)
    assert max_difference(sheet, expected) <= BLEND_TOLERANCE


@pytest.mark.parametrize("filter_name", ["nearest", "bilinear", "lanczos"])
def test_odd_widths_render_like_pillow(gl_context: Any, sample_dir: Path, filter_name: str) -> None:
    paths = []
    for width in (1, 3, 5, 333):
        path = sample_dir / f"width{width}.png"
        pattern((width, 7), seed=width).save(path)
        paths.append(path)
    sheet = render_contact_sheet(paths, columns=2, thumb=(101, 9), padding=3, resample=filter_name)
    expected = reference_sheet(paths, columns=2, thumb=(101, 9), padding=3, resample=filter_name)
    assert max_difference(sheet, expected) <= BLEND_TOLERANCE


def test_cells_are_placed_left_to_right_then_down(gl_context: Any, sample_dir: Path) -> None:
    colours = [(255, 0, 0, 255), (0, 255, 0, 255), (0, 0, 255, 255), (255, 255, 0, 255)]
    paths = []
    for index, colour in enumerate(colours):
        path = sample_dir / f"flat{index}.png"
        Image.new("RGBA", (8, 8), colour).save(path)
        paths.append(path)
    sheet = render_contact_sheet(paths, columns=2, thumb=(8, 8), padding=2)
    assert sheet.size == (2 * 8 + 3 * 2, 2 * 8 + 3 * 2)
    centres = [(6, 6), (16, 6), (6, 16), (16, 16)]
    assert [sheet.getpixel(xy) for xy in centres] == colours
    assert sheet.getpixel((0, 0)) == BACKGROUND


def test_labels_are_written_under_each_thumbnail(gl_context: Any, sheet_files: list[Path]) -> None:
    sheet = render_contact_sheet(sheet_files, columns=3, thumb=(48, 32), padding=4, labels=True)
    layout = layout_sheet(len(sheet_files), columns=3, thumb=(48, 32), padding=4, labels=True)
    assert sheet.size == layout.size
    pixels = np.asarray(sheet)
    for index in range(len(sheet_files)):
        x, y, width, height = layout.label_rect(index)
        strip = pixels[y : y + height, x : x + width]
        assert (strip != np.array(BACKGROUND, dtype=np.uint8)).any(axis=-1).sum() > 10, (
            f"no label in cell {index}"
        )
        # Antialiased text: its brightest pixels come close to the label colour.
        assert strip[..., 0].max() >= LABEL_COLOR[0] - 60
    unlabeled = render_contact_sheet(sheet_files, columns=3, thumb=(48, 32), padding=4)
    # The thumbnails themselves are the same with and without labels.
    for index in range(len(sheet_files)):
        lx, ly, width, height = layout.cell(index)
        ux, uy, _, _ = layout_sheet(len(sheet_files), columns=3, thumb=(48, 32), padding=4).cell(index)
        labeled_cell = sheet.crop((lx, ly, lx + width, ly + height))
        assert max_difference(labeled_cell, unlabeled.crop((ux, uy, ux + width, uy + height))) == 0


def test_without_caches_nothing_outlives_the_call(
    gl_context: Any, gl_ledger: Any, sheet_files: list[Path]
) -> None:
    render_contact_sheet(sheet_files, columns=2, thumb=(16, 16))
    assert gl_ledger.created("texture") == len(sheet_files) == gl_ledger.deleted("texture")
    gl_ledger.assert_no_leaks()


@pytest.fixture
def sheet_caches(gl_context: Any) -> Iterator[tuple[ImageCache, TextureCache]]:
    """An image cache and a texture cache for one test, emptied (textures deleted) at its end."""
    images = ImageCache(1024 * 1024)
    textures = TextureCache(1024 * 1024)
    yield images, textures
    textures.clear()
    images.clear()


def test_caches_are_reused_across_sheets(
    sheet_caches: tuple[ImageCache, TextureCache], sheet_files: list[Path]
) -> None:
    images, textures = sheet_caches
    first = render_contact_sheet(sheet_files, thumb=(24, 24), image_cache=images, texture_cache=textures)
    second = render_contact_sheet(sheet_files, thumb=(24, 24), image_cache=images, texture_cache=textures)
    assert max_difference(first, second) == 0
    assert (textures.stats.misses, textures.stats.hits) == (len(sheet_files), len(sheet_files))
    assert images.stats.misses == len(sheet_files) and images.stats.hits == 0
    render_contact_sheet(sheet_files, thumb=(12, 12), image_cache=images, texture_cache=textures)
    assert images.stats.hits == len(sheet_files)  # new thumbnail size: new textures, same decoded images


def test_a_small_texture_budget_still_renders_correctly(gl_context: Any, sheet_files: list[Path]) -> None:
    with TextureCache(3000) as textures:
        sheet = render_contact_sheet(
            sheet_files, columns=3, thumb=(32, 24), padding=5, texture_cache=textures
        )
        assert textures.nbytes <= 3000
        assert textures.stats.evictions > 0
    expected = reference_sheet(sheet_files, columns=3, thumb=(32, 24), padding=5)
    assert max_difference(sheet, expected) <= BLEND_TOLERANCE


@pytest.mark.max_memory_growth("2 MiB")
def test_repeated_renders_of_the_same_sheet_stay_flat(
    sheet_caches: tuple[ImageCache, TextureCache], sheet_files: list[Path]
) -> None:
    images, textures = sheet_caches
    for _ in range(5):
        sheet = render_contact_sheet(
            sheet_files, columns=3, thumb=(64, 64), labels=True, image_cache=images, texture_cache=textures
        )
        assert sheet.size == layout_sheet(len(sheet_files), columns=3, thumb=(64, 64), labels=True).size
    assert len(textures) == len(sheet_files)
