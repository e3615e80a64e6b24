"""GL textures from Pillow images, uploaded with the right row alignment for any width.

The current OpenGL context (3.3 core or later) must be the one the texture belongs to whenever a method
is called. A texture is deleted by :meth:`Texture.close` or by leaving its ``with`` block, never by the
garbage collector: a GL name is not memory Python can see, and a finalizer may run with no context current.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import numpy as np
import OpenGL.GL as gl
from PIL import Image

# pixel format -> (internal format, client format, bytes per pixel)
_FORMATS: dict[str, tuple[int, int, int]] = {
    "RGBA": (gl.GL_RGBA8, gl.GL_RGBA, 4),
    "RGB": (gl.GL_RGB8, gl.GL_RGB, 3),
    "L": (gl.GL_R8, gl.GL_RED, 1),
}


def first_name(generated: Any) -> int:
    """The GL name from a PyOpenGL ``glGen*(1)`` result (a NumPy scalar, an array or an int)."""
    return int(np.asarray(generated).reshape(-1)[0])


def mip_level_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """Sizes of every level of a full mipmap chain, level 0 first, down to 1x1."""
    sizes = [(width, height)]
    while sizes[-1] != (1, 1):
        last_width, last_height = sizes[-1]
        sizes.append((max(1, last_width // 2), max(1, last_height // 2)))
    return sizes


class Texture:
    """A 2D texture holding an image: ``RGBA`` (GL_RGBA8), ``RGB`` (GL_RGB8) or ``L`` (GL_R8, read as grey).

    Uploads set ``GL_UNPACK_ALIGNMENT`` to 1 for the call (and restore it), so tightly packed rows of any
    width upload correctly: the default alignment of 4 shears RGB and L images whose row is not a multiple
    of 4 bytes. ``mipmaps=True`` generates the full chain (``glGenerateMipmap``).
    """

    def __init__(
        self,
        size: tuple[int, int],
        pixels: bytes | None = None,
        *,
        pixel_format: str = "RGBA",
        mipmaps: bool = False,
    ) -> None:
        if pixel_format not in _FORMATS:
            raise ValueError(f"pixel_format must be one of {', '.join(_FORMATS)}, not {pixel_format!r}")
        width, height = size
        if width < 1 or height < 1:
            raise ValueError(f"texture size must be positive, not {size}")
        internal, client, per_pixel = _FORMATS[pixel_format]
        if pixels is not None and len(pixels) != width * height * per_pixel:
            raise ValueError(
                f"{pixel_format} pixels for {width}x{height} must be {width * height * per_pixel} bytes, "
                f"not {len(pixels)}"
            )
        self.width = width
        self.height = height
        self.pixel_format = pixel_format
        self.mipmaps = mipmaps
        self.name = 0
        previous_binding = int(gl.glGetIntegerv(gl.GL_TEXTURE_BINDING_2D))
        previous_alignment = int(gl.glGetIntegerv(gl.GL_UNPACK_ALIGNMENT))
        self.name = first_name(gl.glGenTextures(1))
        try:
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.name)
            gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
            gl.glTexImage2D(
                gl.GL_TEXTURE_2D, 0, internal, width, height, 0, client, gl.GL_UNSIGNED_BYTE, pixels
            )
            if pixel_format == "L":
                for channel in (gl.GL_TEXTURE_SWIZZLE_G, gl.GL_TEXTURE_SWIZZLE_B):
                    gl.glTexParameteri(gl.GL_TEXTURE_2D, channel, gl.GL_RED)
                gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_SWIZZLE_A, gl.GL_ONE)
            elif pixel_format == "RGB":
                gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_SWIZZLE_A, gl.GL_ONE)
            minify = gl.GL_LINEAR_MIPMAP_LINEAR if mipmaps else gl.GL_LINEAR
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, minify)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, gl.GL_LINEAR)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_S, gl.GL_CLAMP_TO_EDGE)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)
            if mipmaps:
                gl.glGenerateMipmap(gl.GL_TEXTURE_2D)
        except BaseException:
            self.close()
            raise
        finally:
            gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, previous_alignment)
            gl.glBindTexture(gl.GL_TEXTURE_2D, previous_binding)

    @classmethod
    def from_image(cls, image: Image.Image, *, mipmaps: bool = False) -> Texture:
        """Upload a Pillow image: RGBA, RGB and L as they are, any other mode converted to RGBA first."""
        if image.mode in _FORMATS:
            return cls(image.size, image.tobytes(), pixel_format=image.mode, mipmaps=mipmaps)
        return cls(image.size, image.convert("RGBA").tobytes(), pixel_format="RGBA", mipmaps=mipmaps)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of level 0."""
        return self.width, self.height

    @property
    def levels(self) -> int:
        """Number of mipmap levels stored (1 without mipmaps)."""
        return len(mip_level_sizes(self.width, self.height)) if self.mipmaps else 1

    @property
    def nbytes(self) -> int:
        """Estimated GPU bytes: every stored level at its format's bytes per pixel."""
        per_pixel = _FORMATS[self.pixel_format][2]
        sizes = mip_level_sizes(self.width, self.height)[: self.levels]
        return sum(width * height * per_pixel for width, height in sizes)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` deleted the GL texture."""
        return self.name == 0

    def bind(self, unit: int = 0) -> None:
        """Bind to texture unit ``unit`` (leaves that unit active)."""
        self._check_open()
        gl.glActiveTexture(gl.GL_TEXTURE0 + unit)
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.name)

    def read(self, level: int = 0) -> Image.Image:
        """Read a level back (``glGetTexImage``) as a new Pillow image of the texture's mode."""
        self._check_open()
        if not 0 <= level < self.levels:
            raise ValueError(f"level must be in 0..{self.levels - 1}, not {level}")
        width, height = mip_level_sizes(self.width, self.height)[level]
        _, client, per_pixel = _FORMATS[self.pixel_format]
        previous_binding = int(gl.glGetIntegerv(gl.GL_TEXTURE_BINDING_2D))
        previous_alignment = int(gl.glGetIntegerv(gl.GL_PACK_ALIGNMENT))
        destination = np.empty(width * height * per_pixel, dtype=np.uint8)
        try:
            gl.glBindTexture(gl.GL_TEXTURE_2D, self.name)
            gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
            gl.glGetTexImage(gl.GL_TEXTURE_2D, level, client, gl.GL_UNSIGNED_BYTE, destination)
        finally:
            gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, previous_alignment)
            gl.glBindTexture(gl.GL_TEXTURE_2D, previous_binding)
        return Image.frombytes(self.pixel_format, (width, height), destination.tobytes())

    def close(self) -> None:
        """Delete the GL texture (idempotent). The context it was created in must be current."""
        if self.name:
            gl.glDeleteTextures([self.name])
            self.name = 0

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("texture is closed")

    def __enter__(self) -> Texture:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"name={self.name}"
        mips = ", mipmaps" if self.mipmaps else ""
        return f"<Texture {self.width}x{self.height} {self.pixel_format}{mips} {state}>"
