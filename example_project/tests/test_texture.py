"""Texture uploads: exact round trips for every format and odd widths, mipmaps, and deletion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import OpenGL.GL as gl
import pytest
from PIL import Image
from samples import LOSSLESS_SAMPLES, pattern

from glthumbs.loading import load_rgba
from glthumbs.texture import Texture, mip_level_sizes

WIDTHS = [1, 3, 5, 333]


def random_image(mode: str, size: tuple[int, int], seed: int = 7) -> Image.Image:
    channels = {"RGBA": 4, "RGB": 3, "L": 1}[mode]
    generator = np.random.default_rng(seed)
    shape = (size[1], size[0], channels) if channels > 1 else (size[1], size[0])
    return Image.fromarray(generator.integers(0, 256, shape, dtype=np.uint8), mode)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L"])
def test_upload_round_trips_exactly_for_odd_widths(gl_context: Any, mode: str, width: int) -> None:
    # RGB and L rows of these widths are not multiples of 4 bytes: with the default
    # GL_UNPACK_ALIGNMENT of 4 every row after the first would be read from the wrong offset.
    image = random_image(mode, (width, 7))
    with Texture.from_image(image) as texture:
        assert texture.size == (width, 7)
        assert texture.read().tobytes() == image.tobytes()
    assert int(gl.glGetIntegerv(gl.GL_UNPACK_ALIGNMENT)) == 4, "upload must restore the unpack alignment"


@pytest.mark.parametrize(("name", "mode", "options"), LOSSLESS_SAMPLES, ids=[s[0] for s in LOSSLESS_SAMPLES])
def test_every_decoded_sample_uploads_exactly(
    gl_context: Any, make_sample: Callable[..., Path], name: str, mode: str, options: dict[str, object]
) -> None:
    decoded = load_rgba(make_sample(name, mode, **options))
    with Texture.from_image(decoded) as texture:
        assert texture.pixel_format == "RGBA"
        assert texture.read().tobytes() == decoded.tobytes()


def test_other_modes_are_uploaded_as_rgba(gl_context: Any) -> None:
    picture = pattern((5, 4)).convert("LA")
    with Texture.from_image(picture) as texture:
        assert texture.pixel_format == "RGBA"
        assert texture.read().tobytes() == picture.convert("RGBA").tobytes()


def test_mipmaps_are_box_filtered_levels(gl_context: Any) -> None:
    image = random_image("RGBA", (64, 32))
    with Texture.from_image(image, mipmaps=True) as texture:
        assert texture.levels == 7
        assert texture.nbytes == sum(w * h * 4 for w, h in mip_level_sizes(64, 32))
        level1 = np.asarray(texture.read(1), dtype=np.int16)
        # Each level-1 texel is the mean of a 2x2 block of straight (not premultiplied) RGBA, which is
        # what glGenerateMipmap computes; Pillow's reduce() premultiplies alpha, so the reference is NumPy's.
        blocks = np.asarray(image, dtype=np.float64).reshape(16, 2, 32, 2, 4)
        reference = blocks.mean(axis=(1, 3))
        # The driver may round or truncate the mean: at most one unit per channel.
        assert level1.shape == reference.shape
        assert np.abs(level1 - reference).max() <= 1
        assert texture.read(6).size == (1, 1)
        with pytest.raises(ValueError, match="level"):
            texture.read(7)


def test_sizes_and_bytes_without_mipmaps(gl_context: Any) -> None:
    with Texture((333, 5), bytes(333 * 5 * 3), pixel_format="RGB") as texture:
        assert texture.levels == 1
        assert texture.nbytes == 333 * 5 * 3
    assert mip_level_sizes(5, 3) == [(5, 3), (2, 1), (1, 1)]


def test_close_deletes_the_gl_texture(gl_context: Any) -> None:
    texture = Texture.from_image(random_image("RGBA", (3, 3)))
    name = texture.name
    assert gl.glIsTexture(name)
    texture.close()
    assert texture.closed
    assert not gl.glIsTexture(name)
    texture.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        texture.read()


def test_context_manager_deletes_on_error(gl_context: Any) -> None:
    with pytest.raises(RuntimeError), Texture.from_image(random_image("L", (5, 5))) as texture:
        name = texture.name
        raise RuntimeError("boom")
    assert texture.closed
    assert not gl.glIsTexture(name)


def test_bad_arguments_create_nothing(gl_context: Any, gl_ledger: Any) -> None:
    with pytest.raises(ValueError, match="must be 12 bytes"):
        Texture((3, 1), b"\x00" * 11)
    with pytest.raises(ValueError, match="pixel_format"):
        Texture((3, 1), pixel_format="BGR")
    assert gl_ledger.created("texture") == 0


def test_the_ledger_sees_one_texture_created_and_deleted(gl_context: Any, gl_ledger: Any) -> None:
    with Texture.from_image(random_image("RGB", (5, 2))):
        assert len(gl_ledger.live("texture")) == 1
    assert gl_ledger.created("texture") == 1
    assert gl_ledger.deleted("texture") == 1
    gl_ledger.assert_no_leaks()
