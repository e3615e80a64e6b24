"""Contact sheets: a grid of thumbnails of many images, rendered with OpenGL into one picture.

Thumbnails are scaled on the CPU with the chosen Pillow filter, uploaded as textures (through an optional
:class:`~glthumbs.caches.TextureCache`) and drawn 1:1 with nearest sampling, so each thumbnail's pixels are
exactly Pillow's, composited over the background. Labels (file names) are drawn afterwards with Pillow's
default font on the read-back picture.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from glthumbs.caches import ImageCache, TextureCache, image_key
from glthumbs.renderer import Color, Renderer
from glthumbs.scaling import fill, fit, fit_size, resampling

#: Height in pixels of the label strip under each thumbnail when labels are on.
LABEL_HEIGHT = 14
#: Default colours: a dark grey sheet, light grey labels.
BACKGROUND: Color = (32, 32, 32, 255)
LABEL_COLOR: Color = (230, 230, 230, 255)
SCALE_MODES = ("fit", "fill")


@dataclasses.dataclass(frozen=True)
class SheetLayout:
    """Where each cell of a contact sheet goes. Cells are filled left to right, top to bottom."""

    count: int
    columns: int
    thumb: tuple[int, int]
    padding: int
    label_height: int

    @property
    def rows(self) -> int:
        """Number of rows (at least 1)."""
        return max(1, math.ceil(self.count / self.columns))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole sheet."""
        thumb_width, thumb_height = self.thumb
        width = self.columns * thumb_width + (self.columns + 1) * self.padding
        height = self.rows * (thumb_height + self.label_height) + (self.rows + 1) * self.padding
        return width, height

    def cell(self, index: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the thumbnail box of cell ``index`` (its label strip lies below)."""
        if not 0 <= index < self.count:
            raise IndexError(f"cell {index} out of range 0..{self.count - 1}")
        thumb_width, thumb_height = self.thumb
        column, row = index % self.columns, index // self.columns
        x = self.padding + column * (thumb_width + self.padding)
        y = self.padding + row * (thumb_height + self.label_height + self.padding)
        return x, y, thumb_width, thumb_height

    def thumb_rect(self, index: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x, y, width, height) of a thumbnail of ``size`` centred in cell ``index``."""
        x, y, box_width, box_height = self.cell(index)
        width, height = size
        return x + (box_width - width) // 2, y + (box_height - height) // 2, width, height

    def label_rect(self, index: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the label strip of cell ``index`` (height 0 without labels)."""
        x, y, width, height = self.cell(index)
        return x, y + height, width, self.label_height


def layout_sheet(
    count: int,
    *,
    columns: int = 4,
    thumb: tuple[int, int] = (128, 128),
    padding: int = 8,
    labels: bool = False,
) -> SheetLayout:
    """The layout of a sheet of ``count`` thumbnails; fewer images than columns narrows the sheet."""
    if count < 1:
        raise ValueError("a contact sheet needs at least one image")
    if columns < 1:
        raise ValueError(f"columns must be 1 or more, not {columns}")
    if thumb[0] < 1 or thumb[1] < 1:
        raise ValueError(f"thumbnail size must be positive, not {thumb}")
    if padding < 0:
        raise ValueError(f"padding must be 0 or more, not {padding}")
    return SheetLayout(count, min(columns, count), thumb, padding, LABEL_HEIGHT if labels else 0)


def thumbnail(image: Image.Image, thumb: tuple[int, int], resample: str | int, scale: str) -> Image.Image:
    """``image`` scaled for a cell of size ``thumb``: "fit" (inside, aspect kept) or "fill" (cropped)."""
    if scale == "fit":
        return fit(image, thumb, resample)
    if scale == "fill":
        return fill(image, thumb, resample)
    raise ValueError(f"scale must be one of {', '.join(SCALE_MODES)}, not {scale!r}")


def thumbnail_size(size: tuple[int, int], thumb: tuple[int, int], scale: str) -> tuple[int, int]:
    """The size :func:`thumbnail` gives an image of ``size``."""
    return fit_size(size, thumb) if scale == "fit" else thumb


def draw_labels(
    picture: Image.Image,
    layout: SheetLayout,
    texts: Sequence[str],
    color: Color = LABEL_COLOR,
) -> None:
    """Write ``texts[i]`` in the label strip of cell ``i`` (in place), shortened with "..." to fit."""
    if layout.label_height == 0:
        return
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default()
    # Pillow < 10.1's default font is a latin-1 bitmap font, which cannot draw the ellipsis character.
    ellipsis = "\u2026" if isinstance(font, ImageFont.FreeTypeFont) else "..."
    for index, text in enumerate(texts):
        x, y, width, _ = layout.label_rect(index)
        shown = text
        while shown and draw.textlength(shown, font=font) > width:
            shown = shown[: -1 - len(ellipsis)] + ellipsis if len(shown) > len(ellipsis) else ""
        draw.text((x, y + 1), shown, fill=color, font=font)


def _thumbnail_of(
    images: ImageCache, path: str | os.PathLike[str], thumb: tuple[int, int], resample: str | int, scale: str
) -> Image.Image:
    return thumbnail(images.get(path), thumb, resample, scale)


def render_contact_sheet(
    paths: Sequence[str | os.PathLike[str]],
    *,
    columns: int = 4,
    thumb: tuple[int, int] = (128, 128),
    padding: int = 8,
    labels: bool = False,
    background: Color = BACKGROUND,
    label_color: Color = LABEL_COLOR,
    resample: str | int = "lanczos",
    scale: str = "fit",
    image_cache: ImageCache | None = None,
    texture_cache: TextureCache | None = None,
) -> Image.Image:
    """Render thumbnails of ``paths`` in a grid and return the sheet as a new RGBA image.

    Needs a current OpenGL 3.3+ context. Pass caches to reuse decoded images and textures across sheets;
    without them nothing outlives the call (every texture and the renderer are deleted before returning).
    """
    if scale not in SCALE_MODES:
        raise ValueError(f"scale must be one of {', '.join(SCALE_MODES)}, not {scale!r}")
    layout = layout_sheet(len(paths), columns=columns, thumb=thumb, padding=padding, labels=labels)
    images = image_cache if image_cache is not None else ImageCache(0)
    textures = texture_cache if texture_cache is not None else TextureCache(0)
    filter_name = resampling(resample).name.lower()
    try:
        with Renderer(layout.size, background=background) as renderer:
            for index, path in enumerate(paths):
                key = (image_key(path), thumb, filter_name, scale)
                make_image = functools.partial(_thumbnail_of, images, path, thumb, resample, scale)
                texture = textures.get(key, make_image)
                renderer.draw(texture, layout.thumb_rect(index, texture.size))
            picture = renderer.read()
    finally:
        if texture_cache is None:
            textures.clear()
    draw_labels(picture, layout, [Path(path).name for path in paths], label_color)
    return picture
