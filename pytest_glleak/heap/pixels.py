"""Facts about Pillow's pixel storage: bytes per image, arena blocks per core, blocks in use."""

from __future__ import annotations

from typing import Any

from PIL import Image

_core: Any = getattr(Image, "core")  # noqa: B009 (Pillow's stubs do not export its C module)
#: The type of Pillow's pixel core (``ImagingCore``).
CORE_TYPE = type(_core.new("L", (1, 1)))

# Pixel size by Pillow mode (bytes per pixel in Pillow's storage); everything else is 4.
_PIXEL_SIZE: dict[str, int] = {
    "1": 1,
    "L": 1,
    "P": 1,
    "I;16": 2,
    "I;16L": 2,
    "I;16B": 2,
    "I;16N": 2,
    "BGR;15": 2,
    "BGR;16": 2,
    "BGR;24": 3,
}


def pixel_bytes(mode: str, size: tuple[int, int]) -> int:
    """Bytes Pillow stores for an image of ``mode`` and ``size`` (lines padded to the pixel size)."""
    return _PIXEL_SIZE.get(mode, 4) * max(size[0], 0) * max(size[1], 0)


def arena_blocks(core: Any) -> int:
    """Arena blocks Pillow's allocator uses for one image core (see libImaging/Storage.c)."""
    try:
        if core.isblock():
            return 0
        width, height = (int(n) for n in core.size)
        linesize = _PIXEL_SIZE.get(core.mode, 4) * width
    except (AttributeError, TypeError, ValueError):
        return 0
    if linesize <= 0 or height <= 0:
        return 0
    alignment = int(_core.get_alignment())
    aligned = (linesize + alignment - 1) & -alignment
    lines_per_block = max(1, (int(_core.get_block_size()) - (alignment - 1)) // aligned)
    return -(-height // lines_per_block)


def pillow_blocks_in_use() -> int:
    """Pixel blocks Pillow's default arena has handed out and not taken back (cached blocks excluded)."""
    stats: dict[str, int] = _core.get_stats()
    return stats["allocated_blocks"] - stats["freed_blocks"] - stats["blocks_cached"]


def core_of(image: Any) -> Any:
    """An image's ``ImagingCore`` (or None) without raising: ``_im`` from Pillow 11, ``im`` before."""
    if image is None:
        return None
    state = getattr(image, "__dict__", None)
    if state is None:
        return None
    core = state.get("_im")
    return state.get("im") if core is None else core


def image_bytes(image: Any) -> int:
    """Bytes of a Pillow image's decoded pixels (0 before a lazy open is decoded, or once closed)."""
    core = core_of(image)
    if core is None or type(core) is not CORE_TYPE:
        return 0  # not decoded yet (lazy open) or closed
    return pixel_bytes(core.mode, core.size)
