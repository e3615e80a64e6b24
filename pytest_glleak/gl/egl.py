"""Headless OpenGL contexts through EGL (device platform, then Mesa surfaceless).

Pure ctypes over ``libEGL`` so the plugin's own calls never go through PyOpenGL (and so never
reach the ledger's hooks). No pytest imports here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Sequence
from typing import Any

from pytest_glleak.gl.base import (
    CORE_VERSIONS,
    ContextUnavailable,
    GLContext,
    ProcLoader,
)

EGL_SUCCESS = 0x3000
EGL_NONE = 0x3038
EGL_EXTENSIONS = 0x3055
EGL_VENDOR = 0x3053
EGL_SURFACE_TYPE = 0x3033
EGL_PBUFFER_BIT = 0x0001
EGL_RENDERABLE_TYPE = 0x3040
EGL_OPENGL_BIT = 0x0008
EGL_RED_SIZE = 0x3024
EGL_GREEN_SIZE = 0x3023
EGL_BLUE_SIZE = 0x3022
EGL_ALPHA_SIZE = 0x3021
EGL_DEPTH_SIZE = 0x3025
EGL_STENCIL_SIZE = 0x3026
EGL_WIDTH = 0x3057
EGL_HEIGHT = 0x3056
EGL_OPENGL_API = 0x30A2
EGL_CONTEXT_MAJOR_VERSION = 0x3098
EGL_CONTEXT_MINOR_VERSION = 0x30FB
EGL_CONTEXT_OPENGL_PROFILE_MASK = 0x30FD
EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT = 0x1
EGL_CONTEXT_OPENGL_COMPATIBILITY_PROFILE_BIT = 0x2
EGL_PLATFORM_DEVICE_EXT = 0x313F
EGL_PLATFORM_SURFACELESS_MESA = 0x31DD
EGL_DRM_DEVICE_FILE_EXT = 0x3233
EGL_CONFIG_ID = 0x3028

#: EGL error names, for messages that say what foreign code did to the plugin's context.
EGL_ERRORS = {
    0x3000: "EGL_SUCCESS",
    0x3001: "EGL_NOT_INITIALIZED",
    0x3002: "EGL_BAD_ACCESS",
    0x3003: "EGL_BAD_ALLOC",
    0x3004: "EGL_BAD_ATTRIBUTE",
    0x3005: "EGL_BAD_CONFIG",
    0x3006: "EGL_BAD_CONTEXT",
    0x3007: "EGL_BAD_CURRENT_SURFACE",
    0x3008: "EGL_BAD_DISPLAY",
    0x3009: "EGL_BAD_MATCH",
    0x300A: "EGL_BAD_NATIVE_PIXMAP",
    0x300B: "EGL_BAD_NATIVE_WINDOW",
    0x300C: "EGL_BAD_PARAMETER",
    0x300D: "EGL_BAD_SURFACE",
    0x300E: "EGL_CONTEXT_LOST",
}


def egl_error_text(code: int) -> str:
    """``EGL error 0x3006 EGL_BAD_CONTEXT``: the code and, when known, its name."""
    code &= 0xFFFFFFFF
    name = EGL_ERRORS.get(code)
    return f"EGL error 0x{code:04x}" + (f" {name}" if name else "")


INSTALL_HINT = (
    "install Mesa's EGL and GL drivers (Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 "
    "libgl1-mesa-dri) or your GPU vendor's driver"
)

_vp = ctypes.c_void_p


# Thread-local reads asked on every test (make current, lost): called without releasing the GIL, which
# costs more than the call itself.
_GIL_KEEPING = frozenset(("eglGetCurrentContext", "eglQueryContext", "eglGetError"))


class _EGL:
    """The libEGL entry points the plugin needs, typed once."""

    def __init__(self) -> None:
        path = ctypes.util.find_library("EGL") or "libEGL.so.1"
        try:
            lib = ctypes.CDLL(path)
        except OSError as exc:
            raise ContextUnavailable(f"libEGL could not be loaded ({exc}); {INSTALL_HINT}") from exc
        self.lib = lib
        sig: dict[str, tuple[object, list[object]]] = {
            "eglGetProcAddress": (_vp, [ctypes.c_char_p]),
            "eglQueryString": (ctypes.c_char_p, [_vp, ctypes.c_int32]),
            "eglInitialize": (ctypes.c_uint32, [_vp, _vp, _vp]),
            "eglTerminate": (ctypes.c_uint32, [_vp]),
            "eglBindAPI": (ctypes.c_uint32, [ctypes.c_uint32]),
            "eglChooseConfig": (
                ctypes.c_uint32,
                [
                    _vp,
                    ctypes.POINTER(ctypes.c_int32),
                    ctypes.POINTER(_vp),
                    ctypes.c_int32,
                    ctypes.POINTER(ctypes.c_int32),
                ],
            ),
            "eglCreateContext": (_vp, [_vp, _vp, _vp, ctypes.POINTER(ctypes.c_int32)]),
            "eglDestroyContext": (ctypes.c_uint32, [_vp, _vp]),
            "eglCreatePbufferSurface": (_vp, [_vp, _vp, ctypes.POINTER(ctypes.c_int32)]),
            "eglDestroySurface": (ctypes.c_uint32, [_vp, _vp]),
            "eglMakeCurrent": (ctypes.c_uint32, [_vp, _vp, _vp, _vp]),
            "eglGetCurrentContext": (_vp, []),
            "eglGetCurrentDisplay": (_vp, []),
            "eglGetCurrentSurface": (_vp, [ctypes.c_int32]),
            "eglQueryContext": (ctypes.c_uint32, [_vp, _vp, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32)]),
            "eglGetError": (ctypes.c_int32, []),
            "eglReleaseThread": (ctypes.c_uint32, []),
        }
        for name, (restype, argtypes) in sig.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
            if name in _GIL_KEEPING:
                address = ctypes.cast(fn, ctypes.c_void_p).value
                if address:
                    factory: Any = ctypes.PYFUNCTYPE
                    fn = factory(restype, *argtypes)(address)
            setattr(self, name, fn)
        self.client_extensions = set((self.eglQueryString(None, EGL_EXTENSIONS) or b"").decode().split())

    def __getattr__(self, name: str) -> Any:
        # The typed libEGL functions are set in __init__ from the signature table.
        raise AttributeError(name)

    def proc(self, name: str, restype: Any, argtypes: Sequence[Any]) -> Any:
        address = self.eglGetProcAddress(name.encode())
        if not address:
            raise ContextUnavailable(f"EGL does not provide {name}")
        return ctypes.CFUNCTYPE(restype, *argtypes)(address)

    def get_proc_address(self, name: str) -> int:
        return int(self.eglGetProcAddress(name.encode()) or 0)


_EGL_LIB: list[_EGL] = []


def egl_library() -> _EGL:
    """Load libEGL once per process."""
    if not _EGL_LIB:
        _EGL_LIB.append(_EGL())
    return _EGL_LIB[0]


def _attribs(pairs: Sequence[int]) -> ctypes.Array[ctypes.c_int32]:
    values = [*pairs, EGL_NONE]
    return (ctypes.c_int32 * len(values))(*values)


class EGLDisplay:
    """An initialised EGL display on one platform, with the name the backend reports."""

    def __init__(self, egl: _EGL, handle: int, backend: str, device: str) -> None:
        self.egl = egl
        self.handle = handle
        self.backend = backend
        self.device = device
        self.extensions = set((egl.eglQueryString(handle, EGL_EXTENSIONS) or b"").decode().split())


def _initialize(egl: _EGL, handle: int | None) -> bool:
    if not handle:
        return False
    major, minor = ctypes.c_int32(), ctypes.c_int32()
    return bool(egl.eglInitialize(handle, ctypes.byref(major), ctypes.byref(minor)))


def _device_displays(egl: _EGL) -> list[EGLDisplay]:
    if not {"EGL_EXT_platform_device", "EGL_EXT_device_enumeration"} <= egl.client_extensions | (
        {"EGL_EXT_device_enumeration"} if "EGL_EXT_device_base" in egl.client_extensions else set()
    ):
        return []
    query_devices = egl.proc(
        "eglQueryDevicesEXT",
        ctypes.c_uint32,
        [ctypes.c_int32, ctypes.POINTER(_vp), ctypes.POINTER(ctypes.c_int32)],
    )
    query_string = egl.proc("eglQueryDeviceStringEXT", ctypes.c_char_p, [_vp, ctypes.c_int32])
    platform_display = egl.proc(
        "eglGetPlatformDisplayEXT", _vp, [ctypes.c_uint32, _vp, ctypes.POINTER(ctypes.c_int32)]
    )
    count = ctypes.c_int32()
    if not query_devices(0, None, ctypes.byref(count)) or count.value <= 0:
        return []
    devices = (_vp * count.value)()
    if not query_devices(count.value, devices, ctypes.byref(count)):
        return []
    hardware: list[EGLDisplay] = []
    software: list[EGLDisplay] = []
    for device in devices[: count.value]:
        extensions = (query_string(device, EGL_EXTENSIONS) or b"").decode()
        is_software = "EGL_MESA_device_software" in extensions
        label = (
            "software"
            if is_software
            else (
                (query_string(device, EGL_DRM_DEVICE_FILE_EXT) or b"").decode()
                if "EGL_EXT_device_drm" in extensions
                else "device"
            )
        )
        handle = platform_display(EGL_PLATFORM_DEVICE_EXT, device, None)
        if not _initialize(egl, handle):
            continue
        (software if is_software else hardware).append(EGLDisplay(egl, handle, "egl-device", label))
    return hardware + software


def _surfaceless_display(egl: _EGL) -> list[EGLDisplay]:
    if "EGL_MESA_platform_surfaceless" not in egl.client_extensions:
        return []
    platform_display = egl.proc(
        "eglGetPlatformDisplayEXT", _vp, [ctypes.c_uint32, _vp, ctypes.POINTER(ctypes.c_int32)]
    )
    handle = platform_display(EGL_PLATFORM_SURFACELESS_MESA, None, None)
    if not _initialize(egl, handle):
        return []
    return [EGLDisplay(egl, handle, "egl-surfaceless", "surfaceless")]


def candidate_displays() -> list[EGLDisplay]:
    """Every usable headless display, in the order the backend tries them."""
    egl = egl_library()
    displays = _device_displays(egl) + _surfaceless_display(egl)
    if not displays:
        raise ContextUnavailable(
            "EGL offers neither EGL_EXT_platform_device nor EGL_MESA_platform_surfaceless with a "
            f"usable display (client extensions: {' '.join(sorted(egl.client_extensions)) or 'none'}); "
            + INSTALL_HINT
        )
    return displays


class EGLContext(GLContext):
    """An EGL context with a pbuffer (or, where pbuffers are missing, an FBO) as its framebuffer."""

    def __init__(
        self,
        display: EGLDisplay,
        *,
        profile: str,
        version: tuple[int, int] | None,
        width: int,
        height: int,
        share_with: EGLContext | None = None,
    ) -> None:
        self._egl = display.egl
        self._display = display
        self._requested_profile = profile
        self._requested_version = version
        handle, surface, made_version = self._build(display, profile, version, width, height, share_with)
        self._handle: int = handle
        self._surface: int | None = surface
        super().__init__(
            backend=display.backend,
            profile=profile,
            width=width,
            height=height,
            loader=ProcLoader(display.egl.get_proc_address),
            share_group=share_with.share_group if share_with is not None else None,
        )
        self.device = display.device
        self.make_current()
        self._finish_init(needs_fbo=self._surface is None, requested=made_version)

    def _build(
        self,
        display: EGLDisplay,
        profile: str,
        version: tuple[int, int] | None,
        width: int,
        height: int,
        share_with: EGLContext | None,
    ) -> tuple[int, int | None, tuple[int, int] | None]:
        """A new native context and its pbuffer (None: surfaceless) on ``display``."""
        egl = display.egl
        if not egl.eglBindAPI(EGL_OPENGL_API):
            raise ContextUnavailable("eglBindAPI(EGL_OPENGL_API) failed: the driver has no desktop GL")
        config, has_pbuffer = self._choose_config(display)
        share = share_with._handle if share_with is not None else None
        handle, made_version = self._create(display, config, share, profile, version)
        surface: int | None = None
        if has_pbuffer:
            surface = (
                egl.eglCreatePbufferSurface(
                    display.handle, config, _attribs([EGL_WIDTH, width, EGL_HEIGHT, height])
                )
                or None
            )
        if surface is None and "EGL_KHR_surfaceless_context" not in display.extensions:
            egl.eglDestroyContext(display.handle, handle)
            raise ContextUnavailable("EGL gave neither a pbuffer nor EGL_KHR_surfaceless_context")
        return handle, surface, made_version

    @staticmethod
    def _choose_config(display: EGLDisplay) -> tuple[int, bool]:
        egl = display.egl
        base = [
            EGL_RENDERABLE_TYPE,
            EGL_OPENGL_BIT,
            EGL_RED_SIZE,
            8,
            EGL_GREEN_SIZE,
            8,
            EGL_BLUE_SIZE,
            8,
            EGL_ALPHA_SIZE,
            8,
            EGL_DEPTH_SIZE,
            24,
            EGL_STENCIL_SIZE,
            8,
        ]
        for pairs, pbuffer in (([EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, *base], True), (base, False)):
            config = _vp()
            count = ctypes.c_int32()
            ok = egl.eglChooseConfig(
                display.handle, _attribs(pairs), ctypes.byref(config), 1, ctypes.byref(count)
            )
            if ok and count.value > 0:
                return int(config.value or 0), pbuffer
        if "EGL_KHR_no_config_context" in display.extensions:
            return 0, False
        raise ContextUnavailable(f"no EGL config with desktop GL on {display.backend} ({display.device})")

    def _create(
        self,
        display: EGLDisplay,
        config: int,
        share: int | None,
        profile: str,
        version: tuple[int, int] | None,
    ) -> tuple[int, tuple[int, int] | None]:
        egl = display.egl
        mask = (
            EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT
            if profile == "core"
            else EGL_CONTEXT_OPENGL_COMPATIBILITY_PROFILE_BIT
        )
        versions: list[tuple[int, int] | None] = [version] if version else list(CORE_VERSIONS)
        if profile == "compat" and not version:
            versions.append(None)
        for candidate in versions:
            pairs = [EGL_CONTEXT_OPENGL_PROFILE_MASK, mask]
            if candidate is not None:
                pairs = [
                    EGL_CONTEXT_MAJOR_VERSION,
                    candidate[0],
                    EGL_CONTEXT_MINOR_VERSION,
                    candidate[1],
                    *pairs,
                ]
            handle = egl.eglCreateContext(display.handle, config or None, share, _attribs(pairs))
            if handle:
                return int(handle), candidate
        wanted = f"{version[0]}.{version[1]}" if version else "3.3 or newer"
        raise ContextUnavailable(
            f"the driver on {display.backend} ({display.device}) refused a {profile} OpenGL {wanted} "
            f"context ({egl_error_text(egl.eglGetError())})"
        )

    @property
    def native_handle(self) -> int:
        return self._handle

    def make_current(self) -> None:
        """Make this context current in the calling thread."""
        egl = self._egl
        if egl.eglGetCurrentContext() == self._handle:
            return
        if not egl.eglMakeCurrent(self._display.handle, self._surface, self._surface, self._handle):
            raise ContextUnavailable(f"eglMakeCurrent failed ({egl_error_text(egl.eglGetError())})")

    def lost(self) -> str | None:
        """Why this context can no longer be used (destroyed, display terminated), or None.

        A context destroyed while current stays current (and seems to work) until released, so the
        handle is looked up on its display rather than compared with the current one.
        """
        value = ctypes.c_int32()
        egl = self._egl
        if egl.eglQueryContext(self._display.handle, self._handle, EGL_CONFIG_ID, ctypes.byref(value)):
            return None
        return egl_error_text(egl.eglGetError())

    def _rebuild(self) -> None:
        egl = self._egl
        display = self._display
        # What is left of the old context and pbuffer (a zombie still current, a live pbuffer of a
        # destroyed context) is released; the old handle itself may be another context's by now.
        if egl.eglGetCurrentContext() == self._handle:
            egl.eglMakeCurrent(display.handle, None, None, None)
        if self._surface:
            egl.eglDestroySurface(display.handle, self._surface)
        self._surface = None
        egl.eglGetError()
        if not _initialize(egl, display.handle):  # again after a foreign eglTerminate: allowed by EGL
            raise ContextUnavailable(
                f"eglInitialize of the {display.backend} display failed ({egl_error_text(egl.eglGetError())})"
            )
        display.extensions = set((egl.eglQueryString(display.handle, EGL_EXTENSIONS) or b"").decode().split())
        handle, surface, made_version = self._build(
            display, self._requested_profile, self._requested_version, self.width, self.height, None
        )
        self._handle = handle
        self._surface = surface
        self.make_current()
        self._finish_init(needs_fbo=self._surface is None, requested=made_version)

    def is_current(self) -> bool:
        return bool(self._egl.eglGetCurrentContext() == self._handle)

    def _destroy_native(self) -> None:
        egl = self._egl
        if egl.eglGetCurrentContext() == self._handle:
            egl.eglMakeCurrent(self._display.handle, None, None, None)
        if self._surface:
            egl.eglDestroySurface(self._display.handle, self._surface)
        egl.eglDestroyContext(self._display.handle, self._handle)

    def release_current(self) -> None:
        self._egl.eglMakeCurrent(self._display.handle, None, None, None)


def create_egl_context(
    *,
    profile: str,
    version: tuple[int, int] | None,
    width: int,
    height: int,
    share_with: GLContext | None = None,
) -> EGLContext:
    """Create a context on the first EGL display that gives one, device platform first."""
    if share_with is not None:
        if not isinstance(share_with, EGLContext):
            raise ContextUnavailable("an EGL context can only share with another EGL context")
        return EGLContext(
            share_with._display,
            profile=profile,
            version=version,
            width=width,
            height=height,
            share_with=share_with,
        )
    failures: list[str] = []
    for display in candidate_displays():
        try:
            return EGLContext(display, profile=profile, version=version, width=width, height=height)
        except ContextUnavailable as exc:
            failures.append(f"{display.backend} ({display.device}): {exc}")
    raise ContextUnavailable("; ".join(failures))
