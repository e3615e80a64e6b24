"""The backend-neutral part of an offscreen GL context: identity, GL strings, state reset.

GL calls made here go through ``ctypes`` function pointers resolved by the backend, never through
PyOpenGL, so the plugin's own work is invisible to the ledger's hooks and costs no wrapper overhead.
"""

from __future__ import annotations

import ctypes
import itertools
from collections.abc import Callable
from typing import Any

#: Versions tried, newest first, when the user asks for no particular version.
CORE_VERSIONS: tuple[tuple[int, int], ...] = (
    (4, 6),
    (4, 5),
    (4, 4),
    (4, 3),
    (4, 2),
    (4, 1),
    (4, 0),
    (3, 3),
)

GL_VENDOR = 0x1F00
GL_RENDERER = 0x1F01
GL_VERSION = 0x1F02
GL_SHADING_LANGUAGE_VERSION = 0x8B8C
GL_EXTENSIONS = 0x1F03
GL_NUM_EXTENSIONS = 0x821D
GL_MAJOR_VERSION = 0x821B
GL_MINOR_VERSION = 0x821C
GL_CONTEXT_PROFILE_MASK = 0x9126
GL_CONTEXT_CORE_PROFILE_BIT = 0x1
GL_NO_ERROR = 0
GL_FRAMEBUFFER = 0x8D40
GL_RENDERBUFFER = 0x8D41
GL_COLOR_ATTACHMENT0 = 0x8CE0
GL_DEPTH_STENCIL_ATTACHMENT = 0x821A
GL_RGBA8 = 0x8058
GL_DEPTH24_STENCIL8 = 0x88F0
GL_TEXTURE0 = 0x84C0
GL_MAX_COMBINED_TEXTURE_IMAGE_UNITS = 0x8B4D
GL_TRANSFORM_FEEDBACK = 0x8E22
GL_PIXEL_PACK_BUFFER = 0x88EB
GL_PIXEL_UNPACK_BUFFER = 0x88EC
GL_UNPACK_ALIGNMENT = 0x0CF5
GL_PACK_ALIGNMENT = 0x0D05
GL_TEXTURE_2D = 0x0DE1

# Non-indexed buffer targets reset between tests (core 4.6 list).
BUFFER_TARGETS = (
    0x8892,
    0x8893,
    0x8F36,
    0x8F37,
    0x90EE,
    0x8F3F,
    GL_PIXEL_PACK_BUFFER,
    GL_PIXEL_UNPACK_BUFFER,
    0x9192,
    0x8C2A,
    0x8A11,
    0x90D2,
    0x8C8E,
    0x92C0,
)
# Indexed targets: transform feedback, uniform, shader storage, atomic counter.
INDEXED_BUFFER_TARGETS = (0x8C8E, 0x8A11, 0x90D2, 0x92C0)

_u = ctypes.c_uint32
_i = ctypes.c_int32

# name -> (restype, argtypes)
_SIGNATURES: dict[str, tuple[Any, tuple[Any, ...]]] = {
    "glGetString": (ctypes.c_char_p, (_u,)),
    "glGetStringi": (ctypes.c_char_p, (_u, _u)),
    "glGetIntegerv": (None, (_u, ctypes.POINTER(_i))),
    "glGetError": (_u, ()),
    "glFinish": (None, ()),
    "glBindFramebuffer": (None, (_u, _u)),
    "glBindRenderbuffer": (None, (_u, _u)),
    "glGenFramebuffers": (None, (_i, ctypes.POINTER(_u))),
    "glGenRenderbuffers": (None, (_i, ctypes.POINTER(_u))),
    "glDeleteFramebuffers": (None, (_i, ctypes.POINTER(_u))),
    "glDeleteRenderbuffers": (None, (_i, ctypes.POINTER(_u))),
    "glRenderbufferStorage": (None, (_u, _u, _i, _i)),
    "glFramebufferRenderbuffer": (None, (_u, _u, _u, _u)),
    "glBindVertexArray": (None, (_u,)),
    "glUseProgram": (None, (_u,)),
    "glBindProgramPipeline": (None, (_u,)),
    "glBindTransformFeedback": (None, (_u, _u)),
    "glBindBuffer": (None, (_u, _u)),
    "glBindBuffersBase": (None, (_u, _u, _i, ctypes.c_void_p)),
    "glBindTextures": (None, (_u, _i, ctypes.c_void_p)),
    "glBindSamplers": (None, (_u, _i, ctypes.c_void_p)),
    "glBindTexture": (None, (_u, _u)),
    "glActiveTexture": (None, (_u,)),
    "glPixelStorei": (None, (_u, _i)),
    "glViewport": (None, (_i, _i, _i, _i)),
    "glIsTexture": (ctypes.c_ubyte, (_u,)),
}


class ContextUnavailable(RuntimeError):
    """No offscreen GL context could be made: the message says what is missing and how to get it."""


class ProcLoader:
    """Resolves and caches typed GL entry points through a backend's ``getProcAddress``."""

    def __init__(self, get_proc_address: Callable[[str], int]) -> None:
        self._get_proc_address = get_proc_address
        self._cache: dict[str, Any] = {}

    def address(self, name: str) -> int:
        """The raw address of entry point ``name`` (0 when the driver lacks it)."""
        return int(self._get_proc_address(name) or 0)

    def get(self, name: str) -> Any:
        """The typed ctypes function for ``name``, or None when the driver lacks it."""
        try:
            return self._cache[name]
        except KeyError:
            pass
        address = self._get_proc_address(name)
        function = None
        if address:
            restype, argtypes = _SIGNATURES[name]
            function = ctypes.CFUNCTYPE(restype, *argtypes)(address)
        self._cache[name] = function
        return function

    def __getattr__(self, name: str) -> Any:
        function = self.get(name)
        if function is None:
            raise ContextUnavailable(f"the GL driver does not provide {name}")
        return function


_share_groups = itertools.count(1)


class GLContext:
    """An offscreen OpenGL context, the value of the ``gl_context`` fixture.

    Attributes: ``backend`` (``"egl-device"``, ``"egl-surfaceless"``, ``"glfw"``), ``vendor``,
    ``renderer``, ``version`` (the GL version string), ``version_info`` (``(major, minor)``),
    ``profile`` (``"core"`` or ``"compat"``), ``width``, ``height``, ``extensions`` (a frozenset),
    ``share_group`` (an int naming the objects this context shares) and ``framebuffer`` (the GL name of
    the offscreen framebuffer to draw to: 0 for a pbuffer or hidden window, an FBO otherwise).
    """

    backend: str
    device: str = ""

    def __init__(
        self,
        *,
        backend: str,
        profile: str,
        width: int,
        height: int,
        loader: ProcLoader,
        share_group: int | None,
    ) -> None:
        self.backend = backend
        self.profile = profile
        self.width = width
        self.height = height
        self.gl = loader
        self.share_group = share_group if share_group is not None else next(_share_groups)
        self.framebuffer = 0
        self.vendor = ""
        self.renderer = ""
        self.version = ""
        self.shading_language_version = ""
        self.version_info: tuple[int, int] = (0, 0)
        self.extensions: frozenset[str] = frozenset()
        self.destroyed = False
        self._fbo_renderbuffers: tuple[int, int] | None = None
        self._texture_units = 16
        self._reset_key: tuple[Any, ...] | None = None
        self._reset_calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        self._get_error: Callable[[], int] = int

    # Backends implement these four.
    def make_current(self) -> None:
        """Make this context current in the calling thread."""
        raise NotImplementedError

    def is_current(self) -> bool:
        """Whether this context is current in the calling thread."""
        raise NotImplementedError

    def release_current(self) -> None:
        """Leave the calling thread with no current context."""
        raise NotImplementedError

    def _destroy_native(self) -> None:
        raise NotImplementedError

    def lost(self) -> str | None:
        """Why the native context can no longer be used (foreign code destroyed it or terminated its
        display or window system), or None while it can."""
        return None

    def _rebuild(self) -> None:
        raise ContextUnavailable(f"the {self.backend} backend cannot make a new context in place")

    def rebuild(self) -> None:
        """Make a new native context inside this object, current on return, after :meth:`lost`.

        The object stays the same (so a session fixture's value stays valid); ``native_handle``,
        ``framebuffer``, ``share_group`` and the GL strings are those of the new context.
        """
        self._fbo_renderbuffers = None
        self.framebuffer = 0
        self.share_group = next(_share_groups)
        self._reset_key = None  # the new context's functions are resolved again
        self._rebuild()
        self.destroyed = False

    @property
    def native_handle(self) -> int:
        """The window system's handle of this context (EGLContext, GLFWwindow...)."""
        raise NotImplementedError

    def _finish_init(self, *, needs_fbo: bool, requested: tuple[int, int] | None) -> None:
        gl = self.gl
        self.vendor = _string(gl.glGetString(GL_VENDOR))
        self.renderer = _string(gl.glGetString(GL_RENDERER))
        self.version = _string(gl.glGetString(GL_VERSION))
        self.shading_language_version = _string(gl.glGetString(GL_SHADING_LANGUAGE_VERSION))
        major, minor = _i(), _i()
        gl.glGetIntegerv(GL_MAJOR_VERSION, ctypes.byref(major))
        gl.glGetIntegerv(GL_MINOR_VERSION, ctypes.byref(minor))
        self.version_info = (major.value, minor.value) if major.value else (requested or (0, 0))
        count = _i()
        gl.glGetIntegerv(GL_NUM_EXTENSIONS, ctypes.byref(count))
        self.extensions = frozenset(
            _string(gl.glGetStringi(GL_EXTENSIONS, index)) for index in range(count.value)
        )
        mask = _i()
        gl.glGetIntegerv(GL_CONTEXT_PROFILE_MASK, ctypes.byref(mask))
        self.profile = "core" if mask.value & GL_CONTEXT_CORE_PROFILE_BIT else "compat"
        units = _i()
        gl.glGetIntegerv(GL_MAX_COMBINED_TEXTURE_IMAGE_UNITS, ctypes.byref(units))
        self._texture_units = max(1, min(units.value, 32))
        if needs_fbo:
            self._create_default_framebuffer()
        self._reset_key = None
        self.reset_state()

    def _create_default_framebuffer(self) -> None:
        gl = self.gl
        fbo, color, depth = _u(), _u(), _u()
        gl.glGenFramebuffers(1, ctypes.byref(fbo))
        gl.glGenRenderbuffers(1, ctypes.byref(color))
        gl.glGenRenderbuffers(1, ctypes.byref(depth))
        gl.glBindFramebuffer(GL_FRAMEBUFFER, fbo.value)
        for renderbuffer, storage, attachment in (
            (color, GL_RGBA8, GL_COLOR_ATTACHMENT0),
            (depth, GL_DEPTH24_STENCIL8, GL_DEPTH_STENCIL_ATTACHMENT),
        ):
            gl.glBindRenderbuffer(GL_RENDERBUFFER, renderbuffer.value)
            gl.glRenderbufferStorage(GL_RENDERBUFFER, storage, self.width, self.height)
            gl.glFramebufferRenderbuffer(GL_FRAMEBUFFER, attachment, GL_RENDERBUFFER, renderbuffer.value)
        gl.glBindRenderbuffer(GL_RENDERBUFFER, 0)
        self.framebuffer = fbo.value
        self._fbo_renderbuffers = (color.value, depth.value)

    def reset_state(self) -> list[int]:
        """Unbind everything, restore default pixel-store and viewport, and drain the GL error flags.

        Returns the error codes that were pending (a test left GL in an error state).
        """
        key = (id(self.gl), self.framebuffer, self.width, self.height, self.version_info, self._texture_units)
        if self._reset_key != key:
            self._reset_calls, self._get_error = self._reset_program()
            self._reset_key = key
        get_error = self._get_error
        errors = []
        for _ in range(16):
            code = get_error()
            if code == GL_NO_ERROR:
                break
            errors.append(int(code))
        for function, arguments in self._reset_calls:
            function(*arguments)
        # Unbinding through calls that the version does not support would itself raise errors.
        while get_error() != GL_NO_ERROR and len(errors) < 64:
            pass
        return errors

    def _reset_program(self) -> tuple[list[tuple[Callable[..., Any], tuple[Any, ...]]], Callable[[], int]]:
        """The calls :meth:`reset_state` makes, as GIL-keeping functions with their plain-int arguments.

        Built once per context (and again after :meth:`rebuild`): a bare function pointer with no
        argtypes that keeps the GIL costs a fraction of a typed ``CFUNCTYPE`` call, and the reset is
        some 35 calls per test.
        """
        gl = self.gl
        calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

        def add(function: Any, *arguments: Any) -> None:
            calls.append((_gil_keeping(function), arguments))

        add(gl.glUseProgram, 0)
        add(gl.glBindVertexArray, 0)
        pipeline = gl.get("glBindProgramPipeline")
        if pipeline is not None and self.version_info >= (4, 1):
            add(pipeline, 0)
        if self.version_info >= (4, 0):
            add(gl.glBindTransformFeedback, GL_TRANSFORM_FEEDBACK, 0)
        for target in BUFFER_TARGETS:
            add(gl.glBindBuffer, target, 0)
        if self.version_info >= (4, 4):
            for target in INDEXED_BUFFER_TARGETS:
                add(gl.glBindBuffersBase, target, 0, 8, None)
            add(gl.glBindTextures, 0, self._texture_units, None)
            add(gl.glBindSamplers, 0, self._texture_units, None)
        else:
            for unit in range(self._texture_units):
                add(gl.glActiveTexture, GL_TEXTURE0 + unit)
                add(gl.glBindTexture, GL_TEXTURE_2D, 0)
        add(gl.glActiveTexture, GL_TEXTURE0)
        add(gl.glBindRenderbuffer, GL_RENDERBUFFER, 0)
        add(gl.glBindFramebuffer, GL_FRAMEBUFFER, self.framebuffer)
        add(gl.glPixelStorei, GL_UNPACK_ALIGNMENT, 4)
        add(gl.glPixelStorei, GL_PACK_ALIGNMENT, 4)
        add(gl.glViewport, 0, 0, self.width, self.height)
        get_error: Callable[[], int] = _gil_keeping(gl.glGetError, ctypes.c_uint32)
        return calls, get_error

    def destroy(self) -> None:
        """Destroy the context and its framebuffer. Safe to call twice."""
        if self.destroyed:
            return
        if self._fbo_renderbuffers is not None:
            try:
                self.make_current()
                names = (_u * 2)(*self._fbo_renderbuffers)
                self.gl.glDeleteRenderbuffers(2, names)
                fbo = _u(self.framebuffer)
                self.gl.glDeleteFramebuffers(1, ctypes.byref(fbo))
            except ContextUnavailable:
                pass
        self._destroy_native()
        self.destroyed = True

    def describe(self) -> str:
        """One line naming backend, vendor, renderer and GL version (the report-header line)."""
        where = f" ({self.device})" if self.device and self.device not in ("surfaceless",) else ""
        return (
            f"{self.backend}{where}, {self.vendor}, {self.renderer}, OpenGL {self.version} "
            f"{self.profile} profile, {self.width}x{self.height}"
        )

    def __repr__(self) -> str:
        return f"<GLContext {self.describe()}>"


def _gil_keeping(function: Any, restype: Any = None) -> Any:
    """The C function behind a typed ctypes ``function``, re-bound as a ``PYFUNCTYPE`` with no
    argtypes (plain ints and None go as C ints and NULL), so the call keeps the GIL."""
    address = ctypes.cast(function, ctypes.c_void_p).value
    if not address:
        raise ContextUnavailable("a GL entry point has no address")
    return ctypes.PYFUNCTYPE(restype)(address)


def _string(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""
