"""Two everyday tests of a thumbnail viewer. Against glthumbs.leaky, pytest-glleak must fail both."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

from glthumbs.renderer import Renderer

#: The view test's image: its texture is 48 * 40 * 4 = 7,680 bytes.
VIEW_SIZE = (48, 40)


def test_gallery_thumbnails(impl: ModuleType, sample_paths: list[Path]) -> None:
    gallery = impl.Gallery()
    for path in sample_paths:
        small = gallery.thumbnail(path, (32, 32))
        assert small.size == (32, 24)
        assert small.mode == "RGBA"
    gallery.close()


def test_thumbnail_view_draws(gl_context: Any, impl: ModuleType) -> None:
    image = Image.new("RGBA", VIEW_SIZE, (250, 120, 10, 255))
    view = impl.ThumbnailView(image)
    assert view.size == VIEW_SIZE
    with Renderer(VIEW_SIZE) as target:
        view.draw(target)
        assert target.read().getpixel((47, 39)) == (250, 120, 10, 255)
    view.close()
