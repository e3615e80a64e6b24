"""Normalising what PyOpenGL passes to and returns from raw GL functions, and sizing storage calls.

Every shape seen in real code: ``numpy.uint32`` scalars, arrays (``glGenRenderbuffers(2)``), plain ints,
ctypes arrays, ``GLuint`` output parameters and ``byref`` objects, GLsync pointers; and the integer
arguments of ``glTexImage*``/``glTexStorage*``/``glBufferData``/``glRenderbufferStorage*`` turned into
estimated bytes. No pytest imports.
"""

from __future__ import annotations

import ctypes
import operator
from collections.abc import Callable
from typing import Any

import numpy

from pytest_glleak.ledger import registry

_ndarray = numpy.ndarray
#: The type of ``ctypes.byref(...)`` (not importable by name).
_CARG = type(ctypes.byref(ctypes.c_uint()))


def as_name(value: Any) -> int:
    """A GL name from an int, np.uint32, GLuint, a one-element array or a ctypes byref."""
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    names = as_names(value, 1)
    return names[0] if names else 0


def as_count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def as_pointer(value: Any) -> int:
    """A pointer value (GLsync, EGLContext, GLFWwindow*) as an int; 0 for NULL."""
    if value is None:
        return 0
    if type(value) is int:
        return value
    raw = getattr(value, "value", None)
    if isinstance(raw, int):
        return raw
    if raw is None and isinstance(value, ctypes.c_void_p):
        return 0
    try:
        return int(ctypes.cast(value, ctypes.c_void_p).value or 0)
    except Exception:
        try:
            return int(value)
        except Exception:
            return 0


def as_names(value: Any, count: int) -> list[int]:
    """GL names from every array shape PyOpenGL passes down (count < 0: all of them)."""
    kind = type(value)
    if kind is _ndarray:
        flat: list[int] = value.ravel().tolist()
        return flat if count < 0 else flat[:count]
    if isinstance(value, ctypes.Array):
        items: list[int] = value[:] if count < 0 else value[:count]
        return items
    # ctypes' own shapes (pyglet passes byref(GLuint()) and GLuint(name)), before the slow array probe.
    if kind is _CARG:
        return as_names(value._obj, count)
    if isinstance(value, ctypes._SimpleCData):
        return [int(value.value)] if value.value is not None else []
    if kind.__module__ == "numpy" or hasattr(value, "__array_interface__"):
        try:
            flat = value.ravel().tolist() if hasattr(value, "ravel") else list(value)
        except Exception:
            return []
        names = flat if count < 0 else flat[:count]
        return [int(name) for name in names]
    if isinstance(value, int):
        return [value]
    if isinstance(value, ctypes.Array):
        items = value[:] if count < 0 else value[:count]
        return [int(item) for item in items]
    if kind.__name__ == "CArgObject":
        return as_names(getattr(value, "_obj", None), count)
    if isinstance(value, ctypes._Pointer):
        return [int(value[index]) for index in range(max(count, 1))]
    if isinstance(value, (list, tuple)):
        flat_values: list[int] = []
        for item in value:
            flat_values.extend(as_names(item, -1))
        return flat_values if count < 0 else flat_values[:count]
    if isinstance(value, (bytes, bytearray, memoryview)):
        view = memoryview(value).cast("B").cast("I")
        return list(view) if count < 0 else list(view[:count])
    try:
        return [int(value)]
    except Exception:
        return []


def label_text(value: Any, length: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray)):
        text = bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    elif isinstance(value, ctypes.Array):
        text = bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    elif hasattr(value, "tobytes"):
        text = value.tobytes().split(b"\0", 1)[0].decode("utf-8", "replace")
    else:
        text = str(value)
    return text[:length] if length > 0 else text


class StorageSpec:
    """How to pull the integer arguments of one storage entry point, and where they land."""

    __slots__ = ("extract", "is_image", "kind", "level_at", "positions", "target_at")

    def __init__(self, kind: str, positions: dict[str, int]) -> None:
        wanted = sorted(positions.items(), key=lambda item: item[1])
        wanted = [(parameter, index) for parameter, index in wanted if parameter != "object"]
        self.kind = kind
        #: parameter -> index in the extracted values
        self.positions = {parameter: at for at, (parameter, _) in enumerate(wanted)}
        indices = [index for _, index in wanted]
        # itemgetter returns a bare value for one index: keep a tuple whatever the count.
        self.extract: Callable[[tuple[Any, ...]], tuple[Any, ...]] = (
            operator.itemgetter(*indices) if len(indices) > 1 else (lambda args: (args[indices[0]],))
        )
        self.is_image = "level" in positions
        self.target_at = self.positions.get("target", -1)
        self.level_at = self.positions.get("level", -1)


def storage_size(spec: StorageSpec, values: tuple[Any, ...]) -> int:
    target = int(values[spec.target_at]) if spec.target_at >= 0 else 0
    return storage_bytes(spec.kind, target, spec.positions, values)


_TEXTURE_3D = 0x806F
_TEXTURE_CUBE_MAP = 0x8513


def storage_bytes(kind: str, target: int, positions: dict[str, int], args: tuple[Any, ...]) -> int:
    def arg(parameter: str, default: int = 1) -> int:
        index = positions.get(parameter)
        if index is None:
            return default
        try:
            return int(args[index])
        except (TypeError, ValueError):
            return default

    if kind == "buffer":
        return max(arg("size", 0), 0)
    if "imageSize" in positions:
        return max(arg("imageSize", 0), 0)
    width, height, depth = max(arg("width"), 1), max(arg("height"), 1), max(arg("depth"), 1)
    internal = arg("internalformat", 0)
    texel = registry.FORMAT_BYTES.get(internal)
    if texel is None and "format" in positions:
        client_type = arg("type", 0)
        texel = registry.PACKED_TYPE_BYTES.get(client_type) or (
            registry.FORMAT_COMPONENTS.get(arg("format", 0), 4) * registry.TYPE_BYTES.get(client_type, 1)
        )
    texel = texel or 4
    samples = max(arg("samples", 1), 1)
    if kind == "renderbuffer" or "level" in positions or "levels" not in positions:
        return width * height * depth * texel * samples
    faces = 6 if target == _TEXTURE_CUBE_MAP else 1
    total = 0
    for level in range(max(arg("levels"), 1)):
        level_depth = max(depth >> level, 1) if target == _TEXTURE_3D else depth
        total += max(width >> level, 1) * max(height >> level, 1) * level_depth * texel
    return total * faces
