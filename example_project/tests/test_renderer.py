"""The offscreen renderer: pixel-exact 1:1 draws, blending, filtering tolerances, orientation, cleanup.

Tolerances, measured on Mesa llvmpipe and documented here once:
- 1:1 draws with nearest sampling of opaque pixels: exact (0).
- Translucent pixels over an opaque background: at most 1 per channel against ``Image.alpha_composite``
  (GL rounds ``src*a + dst*(1-a)`` once in floating point; Pillow works in integers).
- Magnification with "linear" at whole-number scales: at most 1 against Pillow's BILINEAR.
- Halving with "linear" on a mipmapped texture: at most 1 against Pillow's BOX.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import OpenGL.GL as gl
import pytest
from PIL import Image
from samples import BLEND_TOLERANCE, max_difference, pattern

from glthumbs import renderer as renderer_module
from glthumbs.renderer import Renderer
from glthumbs.texture import Texture

FILTER_TOLERANCE = 1


@pytest.mark.parametrize("width", [1, 3, 5, 333])
def test_one_to_one_nearest_draw_is_exact(gl_context: Any, width: int) -> None:
    picture = pattern((width, 9), alpha=False)
    with (
        Texture.from_image(picture) as texture,
        Renderer((width + 6, 15), background=(9, 8, 7, 255)) as target,
    ):
        target.draw(texture, (2, 4, width, 9))
        result = target.read()
    expected = Image.new("RGBA", (width + 6, 15), (9, 8, 7, 255))
    expected.paste(picture, (2, 4))
    assert result.mode == "RGBA"
    assert max_difference(result, expected) == 0


@pytest.mark.parametrize("width", [1, 3, 5, 333])
def test_translucent_pixels_blend_like_alpha_composite(gl_context: Any, width: int) -> None:
    picture = pattern((width, 6))
    background = (200, 40, 90, 255)
    with Texture.from_image(picture) as texture, Renderer((width + 2, 8), background=background) as target:
        target.draw(texture, (1, 1, width, 6))
        result = target.read()
    layer = Image.new("RGBA", (width + 2, 8), (0, 0, 0, 0))
    layer.paste(picture, (1, 1))
    expected = Image.alpha_composite(Image.new("RGBA", (width + 2, 8), background), layer)
    assert max_difference(result, expected) <= BLEND_TOLERANCE


def test_read_back_is_in_image_orientation(gl_context: Any) -> None:
    marker = Image.new("RGBA", (1, 1), (255, 0, 0, 255))
    with Texture.from_image(marker) as texture, Renderer((4, 3), background=(0, 0, 0, 255)) as target:
        target.draw(texture, (0, 0, 1, 1))
        result = target.read()
    assert result.getpixel((0, 0)) == (255, 0, 0, 255)
    assert result.getpixel((0, 2)) == (0, 0, 0, 255)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_linear_magnification_matches_pillow_bilinear(gl_context: Any, scale: int) -> None:
    picture = pattern((8, 6), alpha=False)
    size = (8 * scale, 6 * scale)
    with Texture.from_image(picture) as texture, Renderer(size) as target:
        target.draw(texture, (0, 0, *size), filter="linear")
        result = target.read()
    assert max_difference(result, picture.resize(size, Image.Resampling.BILINEAR)) <= FILTER_TOLERANCE


def test_mipmapped_halving_matches_pillow_box(gl_context: Any) -> None:
    picture = pattern((16, 12), alpha=False)
    with Texture.from_image(picture, mipmaps=True) as texture, Renderer((8, 6)) as target:
        target.draw(texture, (0, 0, 8, 6), filter="linear")
        result = target.read()
    assert max_difference(result, picture.resize((8, 6), Image.Resampling.BOX)) <= FILTER_TOLERANCE


def test_source_rectangle_draws_part_of_the_texture(gl_context: Any) -> None:
    picture = pattern((10, 8), alpha=False)
    with Texture.from_image(picture) as texture, Renderer((4, 3)) as target:
        target.draw(texture, (0, 0, 4, 3), source=(5, 2, 4, 3))
        result = target.read()
    assert max_difference(result, picture.crop((5, 2, 9, 5))) == 0


def test_opacity_and_clear(gl_context: Any) -> None:
    with Texture.from_image(pattern((4, 4), alpha=False)) as texture, Renderer((4, 4)) as target:
        target.clear((1, 2, 3, 255))
        target.draw(texture, (0, 0, 4, 4), opacity=0.0)
        assert target.read().getcolors() == [(16, (1, 2, 3, 255))]
        target.clear()
        assert target.read().getcolors() == [(16, (0, 0, 0, 0))]


def test_gl_state_is_restored(gl_context: Any) -> None:
    gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, gl_context.framebuffer)
    gl.glViewport(0, 0, 17, 19)
    with Texture.from_image(pattern((3, 3))) as texture, Renderer((5, 5)) as target:
        target.draw(texture, (0, 0, 3, 3), filter="linear")
        target.read()
        assert int(gl.glGetIntegerv(gl.GL_DRAW_FRAMEBUFFER_BINDING)) == gl_context.framebuffer
        assert int(gl.glGetIntegerv(gl.GL_CURRENT_PROGRAM)) == 0
        assert int(gl.glGetIntegerv(gl.GL_VERTEX_ARRAY_BINDING)) == 0
        assert not gl.glIsEnabled(gl.GL_BLEND)
        assert list(np.asarray(gl.glGetIntegerv(gl.GL_VIEWPORT)).reshape(-1)) == [0, 0, 17, 19]


def test_close_deletes_every_gl_object(gl_context: Any) -> None:
    target = Renderer((7, 5))
    names = {
        "program": (target.program, gl.glIsProgram),
        "vertex_array": (target.vertex_array, gl.glIsVertexArray),
        "buffer": (target.vertex_buffer, gl.glIsBuffer),
        "framebuffer": (target.framebuffer, gl.glIsFramebuffer),
        "renderbuffer": (target.color_buffer, gl.glIsRenderbuffer),
        **{f"sampler {key}": (name, gl.glIsSampler) for key, name in target.samplers.items()},
    }
    assert all(is_alive(name) for name, is_alive in names.values())
    target.close()
    assert target.closed
    alive = [kind for kind, (name, is_alive) in names.items() if is_alive(name)]
    assert alive == []
    target.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        target.read()


def test_ledger_balances_for_a_render(gl_context: Any, gl_ledger: Any) -> None:
    with Texture.from_image(pattern((5, 5))) as texture, Renderer((9, 9)) as target:
        target.draw(texture, (2, 2, 5, 5))
        target.read()
    for kind in (
        "texture",
        "program",
        "shader",
        "vertex_array",
        "buffer",
        "framebuffer",
        "renderbuffer",
        "sampler",
    ):
        assert gl_ledger.created(kind) >= 1, kind
        assert gl_ledger.deleted(kind) == gl_ledger.created(kind), kind
    assert gl_ledger.live() == []
    gl_ledger.assert_no_leaks()


def test_failed_shader_build_leaks_nothing(
    gl_context: Any, gl_ledger: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(renderer_module, "FRAGMENT_SHADER", "#version 330 core\nvoid main() { oops; }\n")
    with pytest.raises(RuntimeError, match="shader compilation failed"):
        Renderer((4, 4))
    gl_ledger.assert_no_leaks()
    assert gl_ledger.created("shader") == gl_ledger.deleted("shader") >= 1


def test_size_is_validated(gl_context: Any) -> None:
    with pytest.raises(ValueError, match="render target size"):
        Renderer((0, 4))
