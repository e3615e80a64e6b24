"""Draw textured quads into an offscreen framebuffer and read the picture back as a Pillow image.

Core profile 3.3: one shader program, one vertex array, one vertex buffer, three sampler objects, and a
framebuffer with an RGBA8 renderbuffer of the requested size. Every one of them is deleted by
:meth:`Renderer.close` (or leaving the ``with`` block). Each public call saves the GL state it touches
(framebuffer bindings, viewport, program, vertex array, blending, texture unit 0) and restores it, so a
renderer can be used inside someone else's drawing code.

Coordinates are image pixels: (0, 0) is the top-left corner of the picture, y grows downwards.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

import numpy as np
import OpenGL.GL as gl
from PIL import Image

from glthumbs.texture import first_name

VERTEX_SHADER = """
#version 330 core
layout(location = 0) in vec2 position;  // image pixels, y down
layout(location = 1) in vec2 texcoord;
uniform vec2 target_size;
out vec2 uv;
void main() {
    uv = texcoord;
    vec2 ndc = vec2(position.x / target_size.x * 2.0 - 1.0, 1.0 - position.y / target_size.y * 2.0);
    gl_Position = vec4(ndc, 0.0, 1.0);
}
"""

FRAGMENT_SHADER = """
#version 330 core
in vec2 uv;
uniform sampler2D image;
uniform float opacity;
out vec4 color;
void main() {
    vec4 texel = texture(image, uv);
    color = vec4(texel.rgb, texel.a * opacity);
}
"""

#: Sampling for :meth:`Renderer.draw`: "nearest" copies texels (exact at 1:1), "linear" interpolates
#: (and uses the mipmaps of a texture that has them when minifying).
FILTERS = ("nearest", "linear")

Rect = tuple[float, float, float, float]
Color = tuple[int, int, int, int]


class TextureLike(Protocol):
    """What :meth:`Renderer.draw` needs of a texture (:class:`~glthumbs.texture.Texture` has it)."""

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def mipmaps(self) -> bool: ...

    def bind(self, unit: int = 0) -> None: ...


class Renderer:
    """An offscreen render target of ``size`` (width, height) that draws textures and reads back pixels.

    Needs a current OpenGL 3.3+ core (or compatibility) context; ``close()`` must run with that context
    current. Blending is "source over" with straight alpha: on an opaque background the result is what
    ``Image.alpha_composite`` gives, within one unit of rounding per channel.
    """

    def __init__(self, size: tuple[int, int], *, background: Color = (0, 0, 0, 0)) -> None:
        width, height = size
        limit = int(gl.glGetIntegerv(gl.GL_MAX_RENDERBUFFER_SIZE))
        if not (0 < width <= limit and 0 < height <= limit):
            raise ValueError(f"render target size must be within 1..{limit} on each side, not {size}")
        self.width = width
        self.height = height
        self.background = background
        self.program = 0
        self.vertex_array = 0
        self.vertex_buffer = 0
        self.framebuffer = 0
        self.color_buffer = 0
        self.samplers: dict[str, int] = {}
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        self.clear()

    def _create(self) -> None:
        with self._saved_state():
            self.program = _link_program(VERTEX_SHADER, FRAGMENT_SHADER)
            self._target_size_location = gl.glGetUniformLocation(self.program, "target_size")
            self._opacity_location = gl.glGetUniformLocation(self.program, "opacity")
            self._image_location = gl.glGetUniformLocation(self.program, "image")

            self.vertex_array = first_name(gl.glGenVertexArrays(1))
            self.vertex_buffer = first_name(gl.glGenBuffers(1))
            gl.glBindVertexArray(self.vertex_array)
            gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self.vertex_buffer)
            gl.glBufferData(gl.GL_ARRAY_BUFFER, 4 * 4 * 4, None, gl.GL_DYNAMIC_DRAW)
            stride = 4 * 4
            gl.glEnableVertexAttribArray(0)
            gl.glVertexAttribPointer(0, 2, gl.GL_FLOAT, gl.GL_FALSE, stride, ctypes.c_void_p(0))
            gl.glEnableVertexAttribArray(1)
            gl.glVertexAttribPointer(1, 2, gl.GL_FLOAT, gl.GL_FALSE, stride, ctypes.c_void_p(8))

            previous_renderbuffer = int(gl.glGetIntegerv(gl.GL_RENDERBUFFER_BINDING))
            self.color_buffer = first_name(gl.glGenRenderbuffers(1))
            gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, self.color_buffer)
            gl.glRenderbufferStorage(gl.GL_RENDERBUFFER, gl.GL_RGBA8, self.width, self.height)
            gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, previous_renderbuffer)
            self.framebuffer = first_name(gl.glGenFramebuffers(1))
            gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, self.framebuffer)
            gl.glFramebufferRenderbuffer(
                gl.GL_FRAMEBUFFER, gl.GL_COLOR_ATTACHMENT0, gl.GL_RENDERBUFFER, self.color_buffer
            )
            status = gl.glCheckFramebufferStatus(gl.GL_FRAMEBUFFER)
            if status != gl.GL_FRAMEBUFFER_COMPLETE:
                raise RuntimeError(f"offscreen framebuffer incomplete (status 0x{int(status):04x})")

            for filter_name, minify, magnify in (
                ("nearest", gl.GL_NEAREST, gl.GL_NEAREST),
                ("linear", gl.GL_LINEAR, gl.GL_LINEAR),
                ("mipmap", gl.GL_LINEAR_MIPMAP_LINEAR, gl.GL_LINEAR),
            ):
                sampler = first_name(gl.glGenSamplers(1))
                self.samplers[filter_name] = sampler
                gl.glSamplerParameteri(sampler, gl.GL_TEXTURE_MIN_FILTER, minify)
                gl.glSamplerParameteri(sampler, gl.GL_TEXTURE_MAG_FILTER, magnify)
                gl.glSamplerParameteri(sampler, gl.GL_TEXTURE_WRAP_S, gl.GL_CLAMP_TO_EDGE)
                gl.glSamplerParameteri(sampler, gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the render target."""
        return self.width, self.height

    @property
    def closed(self) -> bool:
        """True once :meth:`close` deleted the GL objects."""
        return self.framebuffer == 0 and self.program == 0

    @property
    def nbytes(self) -> int:
        """Estimated GPU bytes of the render target (RGBA8)."""
        return self.width * self.height * 4

    def clear(self, color: Color | None = None) -> None:
        """Fill the whole target with ``color`` (RGBA 0..255; default: the background)."""
        self._check_open()
        red, green, blue, alpha = self.background if color is None else color
        with self._saved_state():
            previous = gl.glGetFloatv(gl.GL_COLOR_CLEAR_VALUE)
            gl.glClearColor(red / 255.0, green / 255.0, blue / 255.0, alpha / 255.0)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            gl.glClearColor(*(float(value) for value in np.asarray(previous).reshape(-1)[:4]))

    def draw(
        self,
        texture: TextureLike,
        rect: Rect,
        *,
        source: Rect | None = None,
        filter: str = "nearest",
        opacity: float = 1.0,
    ) -> None:
        """Draw ``texture`` into ``rect`` = (x, y, width, height), image pixels from the top-left corner.

        ``source`` = (x, y, width, height) in texels picks part of the texture (default: all of it).
        ``filter`` is "nearest" (a 1:1 draw copies texels exactly) or "linear" (mipmapped when the
        texture has mipmaps). ``opacity`` multiplies the texture's alpha.
        """
        self._check_open()
        if filter not in FILTERS:
            raise ValueError(f"filter must be one of {', '.join(FILTERS)}, not {filter!r}")
        x, y, width, height = rect
        if source is None:
            source = (0.0, 0.0, float(texture.width), float(texture.height))
        left = source[0] / texture.width
        top = source[1] / texture.height
        right = (source[0] + source[2]) / texture.width
        bottom = (source[1] + source[3]) / texture.height
        # Texture row 0 is the image's top row, so texcoord t=0 goes with the quad's top edge.
        vertices = np.array(
            [
                [x, y, left, top],
                [x, y + height, left, bottom],
                [x + width, y, right, top],
                [x + width, y + height, right, bottom],
            ],
            dtype=np.float32,
        )
        sampler = "nearest" if filter == "nearest" else ("mipmap" if texture.mipmaps else "linear")
        with self._saved_state():
            gl.glUseProgram(self.program)
            gl.glUniform2f(self._target_size_location, float(self.width), float(self.height))
            gl.glUniform1f(self._opacity_location, float(opacity))
            gl.glUniform1i(self._image_location, 0)
            texture.bind(0)
            gl.glBindSampler(0, self.samplers[sampler])
            gl.glBindVertexArray(self.vertex_array)
            gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self.vertex_buffer)
            gl.glBufferSubData(gl.GL_ARRAY_BUFFER, 0, vertices.nbytes, vertices)
            gl.glEnable(gl.GL_BLEND)
            gl.glBlendFuncSeparate(
                gl.GL_SRC_ALPHA, gl.GL_ONE_MINUS_SRC_ALPHA, gl.GL_ONE, gl.GL_ONE_MINUS_SRC_ALPHA
            )
            gl.glDrawArrays(gl.GL_TRIANGLE_STRIP, 0, 4)

    def read(self) -> Image.Image:
        """The picture as a new RGBA Pillow image, top row first (``glReadPixels``, flipped)."""
        self._check_open()
        with self._saved_state():
            previous_alignment = int(gl.glGetIntegerv(gl.GL_PACK_ALIGNMENT))
            gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
            try:
                gl.glReadBuffer(gl.GL_COLOR_ATTACHMENT0)
                raw = gl.glReadPixels(0, 0, self.width, self.height, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE)
            finally:
                gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, previous_alignment)
        pixels = raw if isinstance(raw, bytes) else np.asarray(raw, dtype=np.uint8).tobytes()
        bottom_up = Image.frombytes("RGBA", (self.width, self.height), pixels)
        try:
            return bottom_up.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        finally:
            bottom_up.close()

    def close(self) -> None:
        """Delete every GL object the renderer created (idempotent); its context must be current."""
        for sampler in self.samplers.values():
            gl.glDeleteSamplers(1, [sampler])
        self.samplers = {}
        if self.framebuffer:
            gl.glDeleteFramebuffers(1, [self.framebuffer])
            self.framebuffer = 0
        if self.color_buffer:
            gl.glDeleteRenderbuffers(1, [self.color_buffer])
            self.color_buffer = 0
        if self.vertex_array:
            gl.glDeleteVertexArrays(1, [self.vertex_array])
            self.vertex_array = 0
        if self.vertex_buffer:
            gl.glDeleteBuffers(1, [self.vertex_buffer])
            self.vertex_buffer = 0
        if self.program:
            gl.glDeleteProgram(self.program)
            self.program = 0

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("renderer is closed")

    @contextmanager
    def _saved_state(self) -> Iterator[None]:
        """Bind this target (framebuffer and viewport) and restore what was bound before on exit."""
        draw_framebuffer = int(gl.glGetIntegerv(gl.GL_DRAW_FRAMEBUFFER_BINDING))
        read_framebuffer = int(gl.glGetIntegerv(gl.GL_READ_FRAMEBUFFER_BINDING))
        viewport = [int(value) for value in np.asarray(gl.glGetIntegerv(gl.GL_VIEWPORT)).reshape(-1)]
        program = int(gl.glGetIntegerv(gl.GL_CURRENT_PROGRAM))
        vertex_array = int(gl.glGetIntegerv(gl.GL_VERTEX_ARRAY_BINDING))
        array_buffer = int(gl.glGetIntegerv(gl.GL_ARRAY_BUFFER_BINDING))
        active_texture = int(gl.glGetIntegerv(gl.GL_ACTIVE_TEXTURE))
        gl.glActiveTexture(gl.GL_TEXTURE0)
        texture = int(gl.glGetIntegerv(gl.GL_TEXTURE_BINDING_2D))
        sampler = int(gl.glGetIntegerv(gl.GL_SAMPLER_BINDING))
        blend = bool(gl.glIsEnabled(gl.GL_BLEND))
        blend_functions = [
            int(gl.glGetIntegerv(name))
            for name in (
                gl.GL_BLEND_SRC_RGB,
                gl.GL_BLEND_DST_RGB,
                gl.GL_BLEND_SRC_ALPHA,
                gl.GL_BLEND_DST_ALPHA,
            )
        ]
        try:
            if self.framebuffer:
                gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, self.framebuffer)
                gl.glViewport(0, 0, self.width, self.height)
            yield
        finally:
            gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, draw_framebuffer)
            gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, read_framebuffer)
            gl.glViewport(*viewport)
            gl.glUseProgram(program)
            gl.glBindVertexArray(vertex_array)
            gl.glBindBuffer(gl.GL_ARRAY_BUFFER, array_buffer)
            gl.glActiveTexture(gl.GL_TEXTURE0)
            gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
            gl.glBindSampler(0, sampler)
            gl.glActiveTexture(active_texture)
            (gl.glEnable if blend else gl.glDisable)(gl.GL_BLEND)
            gl.glBlendFuncSeparate(*blend_functions)

    def __enter__(self) -> Renderer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"framebuffer={self.framebuffer}"
        return f"<Renderer {self.width}x{self.height} {state}>"


def _compile(kind: int, source: str) -> int:
    shader = int(gl.glCreateShader(kind))
    gl.glShaderSource(shader, source)
    gl.glCompileShader(shader)
    if not gl.glGetShaderiv(shader, gl.GL_COMPILE_STATUS):
        log = gl.glGetShaderInfoLog(shader)
        gl.glDeleteShader(shader)
        raise RuntimeError(f"shader compilation failed: {_text(log)}")
    return shader


def _link_program(vertex_source: str, fragment_source: str) -> int:
    """A linked program; its shaders are detached and deleted before returning (or on failure)."""
    vertex = _compile(gl.GL_VERTEX_SHADER, vertex_source)
    try:
        fragment = _compile(gl.GL_FRAGMENT_SHADER, fragment_source)
    except BaseException:
        gl.glDeleteShader(vertex)
        raise
    program = int(gl.glCreateProgram())
    try:
        gl.glAttachShader(program, vertex)
        gl.glAttachShader(program, fragment)
        gl.glLinkProgram(program)
        linked = gl.glGetProgramiv(program, gl.GL_LINK_STATUS)
        gl.glDetachShader(program, vertex)
        gl.glDetachShader(program, fragment)
        if not linked:
            raise RuntimeError(f"shader program link failed: {_text(gl.glGetProgramInfoLog(program))}")
    except BaseException:
        gl.glDeleteProgram(program)
        raise
    finally:
        gl.glDeleteShader(vertex)
        gl.glDeleteShader(fragment)
    return program


def _text(log: bytes | str) -> str:
    return log.decode(errors="replace") if isinstance(log, bytes) else str(log)
