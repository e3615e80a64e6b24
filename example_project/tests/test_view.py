"""Gallery and ThumbnailView, the correct counterparts of glthumbs.leaky: nothing outlives close()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import OpenGL.GL as gl
from samples import pattern

from glthumbs.renderer import Renderer
from glthumbs.view import Gallery, ThumbnailView


def test_gallery_decodes_each_file_once_and_close_drops_them(sheet_files: list[Path]) -> None:
    with Gallery() as gallery:
        for path in sheet_files:
            assert max(gallery.thumbnail(path, (20, 20)).size) == 20
        for path in sheet_files:
            gallery.thumbnail(path, (10, 10))
        assert gallery.cache.stats.misses == len(sheet_files)
        assert gallery.cache.stats.hits == len(sheet_files)
    assert len(gallery.cache) == 0 and gallery.cache.nbytes == 0


def test_view_draws_and_close_deletes_its_texture(gl_context: Any, gl_ledger: Any) -> None:
    picture = pattern((9, 7), alpha=False)
    with ThumbnailView(picture) as view, Renderer((9, 7)) as target:
        view.draw(target)
        assert target.read().tobytes() == picture.tobytes()
        name = view.texture.name
    assert not gl.glIsTexture(name)
    assert gl_ledger.created("texture") == gl_ledger.deleted("texture") == 1
    gl_ledger.assert_no_leaks()
