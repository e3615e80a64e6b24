"""Decode image files to 8-bit RGBA Pillow images, whatever their format and mode.

PNG, JPEG, GIF (first frame), WebP and BMP, in modes 1, L, LA, P (with or without transparency), PA, RGB,
RGBA, CMYK, YCbCr, I;16 (and its byte-order variants), I and F. EXIF orientation is applied, so the pixels
come out the way a viewer shows them.
"""

from __future__ import annotations

import os
from typing import IO

import numpy as np
from PIL import Image, ImageOps

#: What :func:`load_rgba` accepts: a path or an open binary file.
ImageSource = str | os.PathLike[str] | IO[bytes]

_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})


def to_rgba(image: Image.Image) -> Image.Image:
    """Convert an image of any mode to a new 8-bit RGBA image.

    16-bit greyscale (``I;16*``, and ``I`` as PNG decodes 16-bit data) is scaled from 0..65535 to 0..255
    with rounding, not clipped at 255 as ``Image.convert("L")`` does. ``F`` is taken as 0.0..1.0.
    """
    if image.mode == "RGBA":
        return image.copy()
    if image.mode in _SIXTEEN_BIT_MODES:
        wide = np.asarray(image).astype(np.int64)
        narrow = ((np.clip(wide, 0, 65535) * 255 + 32767) // 65535).astype(np.uint8)
        return Image.fromarray(narrow).convert("RGBA")
    if image.mode == "F":
        floats = np.asarray(image, dtype=np.float64)
        narrow = np.rint(np.clip(floats, 0.0, 1.0) * 255.0).astype(np.uint8)
        return Image.fromarray(narrow).convert("RGBA")
    if image.mode == "P" and "transparency" in image.info:
        # Straight to RGBA keeps the tRNS alpha; through RGB would drop it.
        return image.convert("RGBA")
    if image.mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBa", "RGBX", "La", "CMYK", "YCbCr"):
        return image.convert("RGBA")
    return image.convert("RGB").convert("RGBA")


def load_rgba(source: ImageSource) -> Image.Image:
    """Decode ``source`` (path or binary file) to a new, fully loaded 8-bit RGBA image.

    Animated formats give their first frame. EXIF orientation is applied (``ImageOps.exif_transpose``).
    The file is closed on return; the result holds no reference to it.
    """
    with Image.open(source) as opened:
        opened.seek(0)
        opened.load()
        upright = ImageOps.exif_transpose(opened)
        if upright is None:  # only with in_place=True; kept for type checkers
            upright = opened
        try:
            return to_rgba(upright)
        finally:
            if upright is not opened:
                upright.close()


def decoded_bytes(image: Image.Image) -> int:
    """Bytes of pixel storage an RGBA 8-bit image of this size holds (4 per pixel)."""
    width, height = image.size
    return width * height * 4
