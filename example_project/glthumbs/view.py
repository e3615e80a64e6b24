"""The pieces a desktop viewer builds from: a gallery that decodes thumbnails, a view that shows one.

:mod:`glthumbs.leaky` has the same API with the two classic bugs; this is the correct version.
"""

from __future__ import annotations

import os
from types import TracebackType

from PIL import Image

from glthumbs.caches import ImageCache
from glthumbs.renderer import Rect, Renderer
from glthumbs.scaling import fit
from glthumbs.texture import Texture

#: Default decoded-image budget of a gallery: 32 MiB, about 32 images of 2048x128.
GALLERY_BUDGET = 32 * 1024 * 1024


class Gallery:
    """Thumbnails of image files, decoding each file once through a byte-bounded :class:`ImageCache`.

    ``close()`` (or leaving the ``with`` block) drops every decoded image.
    """

    def __init__(self, budget: int = GALLERY_BUDGET) -> None:
        self.cache = ImageCache(budget)

    def thumbnail(
        self, path: str | os.PathLike[str], size: tuple[int, int], resample: str | int = "lanczos"
    ) -> Image.Image:
        """A new RGBA thumbnail of ``path`` fitting in ``size``."""
        return fit(self.cache.get(path), size, resample)

    def close(self) -> None:
        """Drop the decoded images."""
        self.cache.clear()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ThumbnailView:
    """A widget-like view of one image: uploads it as a texture, draws it, deletes it on ``close()``."""

    def __init__(self, image: Image.Image) -> None:
        self.texture = Texture.from_image(image)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image shown."""
        return self.texture.size

    def draw(self, renderer: Renderer, rect: Rect | None = None) -> None:
        """Draw the image into ``renderer`` at ``rect`` (default: 1:1 at the top-left corner)."""
        width, height = self.texture.size
        renderer.draw(self.texture, rect if rect is not None else (0, 0, width, height))

    def close(self) -> None:
        """Delete the texture (idempotent)."""
        self.texture.close()

    def __enter__(self) -> ThumbnailView:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
