"""Bounded caches: decoded images bounded by bytes, GL textures bounded by estimated GPU bytes.

Both are least-recently-used, count hits, misses and evictions, and empty with ``clear()``. The texture
cache deletes every texture it evicts or clears (``Texture.close()``), so GPU memory is returned when the
cache says so, not when the garbage collector gets round to it.
"""

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path

from PIL import Image

from glthumbs.loading import decoded_bytes, load_rgba
from glthumbs.texture import Texture


@dataclasses.dataclass(frozen=True)
class CacheStats:
    """A snapshot of a cache's counters and occupancy."""

    hits: int
    misses: int
    evictions: int
    entries: int
    nbytes: int
    budget: int


#: An image cache key: the resolved path, its modification time (ns) and its size in bytes, so an edited
#: file is decoded again.
ImageKey = tuple[str, int, int]


def image_key(path: str | os.PathLike[str]) -> ImageKey:
    """The cache key of the file at ``path`` (raises OSError when it cannot be read)."""
    resolved = Path(path).resolve()
    status = resolved.stat()
    return str(resolved), status.st_mtime_ns, status.st_size


class ImageCache:
    """Decoded RGBA images by file, least recently used first out, at most ``budget`` bytes in all.

    An image larger than the whole budget is decoded and returned but not kept. Callers must treat the
    returned images as read-only: they are shared.
    """

    def __init__(
        self,
        budget: int,
        *,
        loader: Callable[[str | os.PathLike[str]], Image.Image] = load_rgba,
    ) -> None:
        if budget < 0:
            raise ValueError(f"budget must be 0 or more bytes, not {budget}")
        self.budget = budget
        self._loader = loader
        self._entries: OrderedDict[ImageKey, Image.Image] = OrderedDict()
        self._nbytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, path: str | os.PathLike[str]) -> Image.Image:
        """The decoded image of ``path``, from the cache or decoded now (then cached if it fits)."""
        key = image_key(path)
        cached = self._entries.get(key)
        if cached is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return cached
        self.misses += 1
        image = self._loader(path)
        size = decoded_bytes(image)
        if size <= self.budget:
            self._make_room(size)
            self._entries[key] = image
            self._nbytes += size
        return image

    def _make_room(self, size: int) -> None:
        while self._entries and self._nbytes + size > self.budget:
            _, evicted = self._entries.popitem(last=False)
            self._nbytes -= decoded_bytes(evicted)
            self.evictions += 1

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        try:
            return image_key(path) in self._entries
        except OSError:
            return False

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Decoded bytes held now (4 per pixel)."""
        return self._nbytes

    @property
    def stats(self) -> CacheStats:
        """Counters and occupancy now."""
        return CacheStats(
            self.hits, self.misses, self.evictions, len(self._entries), self._nbytes, self.budget
        )

    def clear(self) -> None:
        """Drop every cached image (counters are kept)."""
        self._entries.clear()
        self._nbytes = 0


class TextureCache:
    """GL textures by key, least recently used first out, at most ``budget`` estimated GPU bytes.

    ``get(key, make_image)`` returns the cached texture or uploads ``make_image()``. Evicted textures are
    deleted at once, so a texture returned by ``get`` is valid until the next ``get`` or ``clear``. A
    texture larger than the whole budget is returned but not cached: it is deleted by the next ``get``
    or ``clear``. Calls need the textures' context current; ``clear()`` (or ``close()``) must be called
    before that context goes away.
    """

    def __init__(self, budget: int, *, mipmaps: bool = False) -> None:
        if budget < 0:
            raise ValueError(f"budget must be 0 or more bytes, not {budget}")
        self.budget = budget
        self.mipmaps = mipmaps
        self._entries: OrderedDict[Hashable, Texture] = OrderedDict()
        self._oversized: Texture | None = None
        self._nbytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: Hashable, make_image: Callable[[], Image.Image]) -> Texture:
        """The texture cached under ``key``, or a new upload of ``make_image()`` cached under it."""
        self._drop_oversized()
        cached = self._entries.get(key)
        if cached is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return cached
        self.misses += 1
        texture = Texture.from_image(make_image(), mipmaps=self.mipmaps)
        if texture.nbytes > self.budget:
            self._oversized = texture
            return texture
        while self._entries and self._nbytes + texture.nbytes > self.budget:
            _, evicted = self._entries.popitem(last=False)
            self._nbytes -= evicted.nbytes
            evicted.close()
            self.evictions += 1
        self._entries[key] = texture
        self._nbytes += texture.nbytes
        return texture

    def _drop_oversized(self) -> None:
        if self._oversized is not None:
            self._oversized.close()
            self._oversized = None

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._entries
        except TypeError:
            return False

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        """Estimated GPU bytes of the cached textures."""
        return self._nbytes

    @property
    def stats(self) -> CacheStats:
        """Counters and occupancy now."""
        return CacheStats(
            self.hits, self.misses, self.evictions, len(self._entries), self._nbytes, self.budget
        )

    def clear(self) -> None:
        """Delete every cached texture (counters are kept)."""
        self._drop_oversized()
        while self._entries:
            _, texture = self._entries.popitem(last=False)
            texture.close()
        self._nbytes = 0

    close = clear

    def __enter__(self) -> TextureCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.clear()
