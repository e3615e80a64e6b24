"""Decoding: every format and mode to 8-bit RGBA, 16-bit scaling, GIF first frame, EXIF orientation."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from samples import LOSSLESS_SAMPLES, LOSSY_SAMPLES, max_difference, source_image

from glthumbs.loading import load_rgba, to_rgba


@pytest.mark.parametrize(("name", "mode", "options"), LOSSLESS_SAMPLES, ids=[s[0] for s in LOSSLESS_SAMPLES])
def test_lossless_formats_decode_to_the_saved_pixels(
    make_sample: Callable[..., Path], name: str, mode: str, options: dict[str, object]
) -> None:
    path = make_sample(name, mode, **options)
    decoded = load_rgba(path)
    assert decoded.mode == "RGBA"
    assert decoded.size == (23, 17)
    expected = to_rgba(source_image(mode))
    assert decoded.tobytes() == expected.tobytes()


@pytest.mark.parametrize(("name", "mode", "options"), LOSSY_SAMPLES, ids=[s[0] for s in LOSSY_SAMPLES])
def test_jpeg_decodes_like_pillow_and_close_to_the_source(
    make_sample: Callable[..., Path], name: str, mode: str, options: dict[str, object]
) -> None:
    path = make_sample(name, mode, **options)
    decoded = load_rgba(path)
    with Image.open(path) as opened:
        assert decoded.tobytes() == opened.convert("RGBA").tobytes()
    assert decoded.getchannel("A").getextrema() == (255, 255)
    source = source_image(mode).convert("RGBA")
    mean_error = np.abs(np.asarray(decoded, dtype=np.int16) - np.asarray(source, dtype=np.int16)).mean()
    assert mean_error < 12, f"{name}: decoded picture is not the saved one (mean error {mean_error:.1f})"


def test_palette_transparency_becomes_alpha(make_sample: Callable[..., Path]) -> None:
    source = source_image("P_transparent")
    path = make_sample("transparent.png", "P_transparent")
    alpha = np.asarray(load_rgba(path).getchannel("A"))
    indices = np.asarray(source)
    assert ((alpha == 0) == (indices == 3)).all()
    assert (alpha[indices != 3] == 255).all()
    assert (indices == 3).any()


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    levels = np.array([[0, 128, 257, 32767, 32768, 65278, 65535]], dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    buffer.seek(0)
    decoded = load_rgba(buffer)
    assert np.asarray(decoded.getchannel("R")).tolist() == [[0, 0, 1, 127, 128, 254, 255]]
    assert decoded.getchannel("A").getextrema() == (255, 255)
    # The classic mistake: convert("L") clips everything above 255 to white.
    assert Image.fromarray(levels).convert("L").getpixel((3, 0)) == 255


def test_float_images_are_taken_as_zero_to_one() -> None:
    values = np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]], dtype=np.float32)
    converted = to_rgba(Image.fromarray(values, "F"))
    assert np.asarray(converted.getchannel("G")).tolist() == [[0, 0, 128, 255, 255]]


def test_gif_gives_its_first_frame(sample_dir: Path) -> None:
    frames = [Image.new("RGB", (7, 5), color) for color in ((200, 10, 10), (10, 10, 200), (10, 200, 10))]
    path = sample_dir / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)
    decoded = load_rgba(path)
    assert decoded.size == (7, 5)
    assert decoded.getcolors() == [(35, (200, 10, 10, 255))]


def test_the_result_is_independent_of_the_file(make_sample: Callable[..., Path]) -> None:
    path = make_sample("detach.png", "RGB")
    decoded = load_rgba(path)
    path.unlink()
    assert decoded.getpixel((0, 0)) == source_image("RGB").convert("RGBA").getpixel((0, 0))
    assert getattr(decoded, "fp", None) is None


# Stored corners of a 4x2 picture, and which stored corner each displayed corner shows, per EXIF
# orientation (TIFF/EXIF 2.3 definitions: 6 = rotate 90 degrees clockwise to display, and so on).
CORNERS = {"TL": (255, 0, 0, 255), "TR": (0, 255, 0, 255), "BL": (0, 0, 255, 255), "BR": (255, 255, 255, 255)}
DISPLAYED = {
    1: ("TL", "TR", "BL", "BR"),
    2: ("TR", "TL", "BR", "BL"),
    3: ("BR", "BL", "TR", "TL"),
    4: ("BL", "BR", "TL", "TR"),
    5: ("TL", "BL", "TR", "BR"),
    6: ("BL", "TL", "BR", "TR"),
    7: ("BR", "TR", "BL", "TL"),
    8: ("TR", "BR", "TL", "BL"),
}


@pytest.mark.parametrize("orientation", sorted(DISPLAYED))
def test_exif_orientation_is_applied(sample_dir: Path, orientation: int) -> None:
    stored = Image.new("RGBA", (4, 2), (0, 0, 0, 255))
    for corner, (x, y) in {"TL": (0, 0), "TR": (3, 0), "BL": (0, 1), "BR": (3, 1)}.items():
        stored.putpixel((x, y), CORNERS[corner])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = sample_dir / f"orientation{orientation}.png"
    stored.save(path, exif=exif.tobytes())
    decoded = load_rgba(path)
    assert decoded.size == ((4, 2) if orientation <= 4 else (2, 4))
    width, height = decoded.size
    shown = [
        decoded.getpixel(xy) for xy in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1))
    ]
    assert shown == [CORNERS[corner] for corner in DISPLAYED[orientation]]


@pytest.mark.parametrize(
    "mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I;16", "I", "F"]
)
def test_every_mode_converts_to_rgba(mode: str) -> None:
    picture = pattern_in(mode)
    converted = to_rgba(picture)
    assert converted.mode == "RGBA"
    assert converted.size == picture.size
    assert converted is not picture


def pattern_in(mode: str) -> Image.Image:
    if mode in ("I;16", "I", "F"):
        return Image.new(mode, (5, 3), 1)
    if mode == "PA":
        return Image.new("RGBA", (5, 3), (10, 20, 30, 40)).convert("PA")
    return source_image("RGB", (5, 3)).convert(mode)


def test_rgba_input_is_copied_not_shared() -> None:
    picture = source_image("RGBA", (3, 3))
    converted = to_rgba(picture)
    assert converted is not picture
    assert max_difference(converted, picture) == 0
