"""DELIBERATELY LEAKY: the two classic bugs of image viewers, for pytest-glleak to catch.

Same API as :mod:`glthumbs.view` (``Gallery``, ``ThumbnailView``), with:

1. a module-level cache of decoded images that nothing ever evicts (``Gallery.close()`` forgets it), and
2. a view that uploads its texture with ``glGenTextures`` / ``glTexImage2D`` and never calls
   ``glDeleteTextures`` (``ThumbnailView.close()`` only forgets the name).

Never imported by the real modules; do not use it for anything but demonstrating the plugin. The
``# LEAK:`` comments mark the lines that create what leaks; pytest-glleak's own tests look them up.
"""

from __future__ import annotations

import os

import OpenGL.GL as gl
from PIL import Image

from glthumbs.renderer import Rect, Renderer
from glthumbs.scaling import fit
from glthumbs.texture import first_name

# Bug 1: grows with every new file, forever.
_DECODED: dict[str, Image.Image] = {}


class Gallery:
    """Thumbnails of image files; decoded images go into a global dict and stay there."""

    def __init__(self, budget: int = 0) -> None:
        self.budget = budget  # accepted and ignored: that is the bug

    def thumbnail(
        self, path: str | os.PathLike[str], size: tuple[int, int], resample: str | int = "lanczos"
    ) -> Image.Image:
        """A new RGBA thumbnail of ``path`` fitting in ``size``."""
        key = os.fspath(path)
        if key not in _DECODED:
            with Image.open(path) as opened:
                _DECODED[key] = opened.convert("RGBA")  # LEAK: decoded image
        return fit(_DECODED[key], size, resample)

    def close(self) -> None:
        """Meant to free the decoded images; forgets the global cache."""

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ThumbnailView:
    """A view of one image as a texture; ``close()`` hides it but never deletes the texture."""

    def __init__(self, image: Image.Image) -> None:
        rgba = image.convert("RGBA")
        self.width, self.height = rgba.size
        self.texture = first_name(gl.glGenTextures(1))  # LEAK: texture
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glTexImage2D(
            gl.GL_TEXTURE_2D,
            0,
            gl.GL_RGBA8,
            self.width,
            self.height,
            0,
            gl.GL_RGBA,
            gl.GL_UNSIGNED_BYTE,
            rgba.tobytes(),
        )
        gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, gl.GL_LINEAR)
        gl.glBindTexture(gl.GL_TEXTURE_2D, 0)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the image shown."""
        return self.width, self.height

    @property
    def mipmaps(self) -> bool:
        """Never: one level."""
        return False

    def bind(self, unit: int = 0) -> None:
        """Bind the texture to unit ``unit``."""
        gl.glActiveTexture(gl.GL_TEXTURE0 + unit)
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)

    def draw(self, renderer: Renderer, rect: Rect | None = None) -> None:
        """Draw the image into ``renderer`` at ``rect`` (default: 1:1 at the top-left corner)."""
        renderer.draw(self, rect if rect is not None else (0, 0, self.width, self.height))

    def close(self) -> None:
        """Bug 2: forgets the texture name without ``glDeleteTextures``."""
        self.texture = 0

    def __enter__(self) -> ThumbnailView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
