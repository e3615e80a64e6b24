"""Sample pictures and Pillow-side helpers shared by the tests (imported as ``samples``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

#: Largest per-channel difference tolerated where straight-alpha blending is involved: GL computes
#: ``src * a + dst * (1 - a)`` in floating point and rounds once, Pillow's ``alpha_composite`` works in
#: integers; the two differ by at most 1 on an 8-bit channel.
BLEND_TOLERANCE = 1


def pattern(size: tuple[int, int], *, seed: int = 0, alpha: bool = True) -> Image.Image:
    """An RGBA test picture with no symmetry: gradients, a checkerboard and (optionally) varying alpha."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(1, width - 1)).astype(np.uint8)
    green = (y * 255 // max(1, height - 1)).astype(np.uint8)
    blue = ((((x // 3) + (y // 3) + seed) % 2) * 200 + 30).astype(np.uint8)
    opacity = ((x + 2 * y + seed * 17) * 37 % 256).astype(np.uint8) if alpha else np.full_like(red, 255)
    return Image.fromarray(np.dstack([red, green, blue, opacity]), "RGBA")


def source_image(mode: str, size: tuple[int, int] = (23, 17)) -> Image.Image:
    """The in-memory picture saved for a sample of ``mode`` (what the file should decode to)."""
    rgba = pattern(size)
    if mode == "RGBA":
        return rgba
    if mode == "P_transparent":
        palette = rgba.convert("RGB").quantize(colors=16)
        palette.info["transparency"] = 3
        return palette
    if mode == "LA":
        return rgba.convert("LA")
    if mode == "I;16":
        levels = (np.arange(size[0] * size[1], dtype=np.uint32) * 997 % 65536).astype(np.uint16)
        return Image.fromarray(levels.reshape(size[1], size[0]))
    return rgba.convert("RGB").convert(mode)


def max_difference(first: Image.Image, second: Image.Image) -> int:
    """Largest absolute per-channel difference of two same-sized RGBA images."""
    assert first.size == second.size, (first.size, second.size)
    assert first.mode == second.mode == "RGBA", (first.mode, second.mode)
    difference = np.abs(np.asarray(first, dtype=np.int16) - np.asarray(second, dtype=np.int16))
    return int(difference.max())


# (file name, mode of the saved picture, save options); decoded exactly by Pillow except JPEG.
LOSSLESS_SAMPLES: list[tuple[str, str, dict[str, object]]] = [
    ("rgba.png", "RGBA", {}),
    ("rgb.png", "RGB", {}),
    ("grey.png", "L", {}),
    ("grey_alpha.png", "LA", {}),
    ("bilevel.png", "1", {}),
    ("palette.png", "P", {}),
    ("palette_transparent.png", "P_transparent", {}),
    ("deep.png", "I;16", {}),
    ("rgba.webp", "RGBA", {"lossless": True, "exact": True}),
    ("rgb.webp", "RGB", {"lossless": True}),
    ("rgb.bmp", "RGB", {}),
    ("palette.bmp", "P", {}),
    ("bilevel.bmp", "1", {}),
    ("palette_transparent.gif", "P_transparent", {}),
]
LOSSY_SAMPLES: list[tuple[str, str, dict[str, object]]] = [
    ("rgb.jpg", "RGB", {"quality": 95, "subsampling": 0}),
    ("grey.jpg", "L", {"quality": 95}),
    ("cmyk.jpg", "CMYK", {"quality": 95, "subsampling": 0}),
]


def write_sample(directory: Path, name: str, mode: str, options: dict[str, Any]) -> Path:
    """Save ``source_image(mode)`` as ``directory/name``; returns the path."""
    path = directory / name
    image = source_image(mode)
    if "transparency" in image.info:
        options = {**options, "transparency": image.info["transparency"]}
    image.save(path, **options)
    return path
