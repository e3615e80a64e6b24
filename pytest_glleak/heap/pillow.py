"""The Pillow and NumPy interception: where decoded image buffers are seen being made.

* The ``Image.im`` property setter: every path that gives an image its pixel core goes through it.
* ``ImageFile.__init__``: a lazily opened file is recorded where it was opened.
* ``Image.__array_struct__`` (always absent; it notes NumPy's probe), ``Image.__array_interface__`` (steps
  aside for that probe only) and ``Image.__array__`` (builds and tracks NumPy's array).

The wrappers record into an :class:`~pytest_glleak.heap.tracker.ImageTracker`; see its module for the
records and the verdict.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageFile

from pytest_glleak.errors import UnsupportedDependency
from pytest_glleak.heap.pixels import CORE_TYPE
from pytest_glleak.heap.records import KeyedRef, TrackedBuffer
from pytest_glleak.sites import capture

if TYPE_CHECKING:
    from pytest_glleak.heap.tracker import ImageTracker

#: What :func:`install_hooks` replaced: (class, attribute name, the original or ``_ABSENT``).
Installed = list[tuple[Any, str, Any]]

#: Marks an attribute Pillow does not define (removed again on uninstall).
_ABSENT: Any = object()
#: The last ``__array_struct__`` lookup on an image: (id(image), id(caller frame), caller's f_lasti).
_numpy_probe: list[tuple[int, int, int] | None] = [None]


#: NumPy before 2.1 calls ``__array__`` without ``copy`` and copies the result itself when asked to.
NUMPY_COPIES_ITSELF = np.lib.NumpyVersion(np.__version__) < "2.1.0"
#: The NumPy functions wrapped on such a NumPy (see ``convert_wrapper`` in :func:`install_hooks`).
NUMPY_CONVERSIONS = ("array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray", "copy")

#: The oldest Pillow the hooks are tested on (``pyproject.toml``'s floor).
OLDEST_PILLOW = "9.5"


def pillow_version() -> str:
    """The installed Pillow's version string."""
    import PIL

    return str(getattr(PIL, "__version__", "unknown"))


def check_supported() -> None:
    """Raise :class:`UnsupportedDependency` naming the version unless Pillow has every entry point the
    hooks wrap: the ``Image.im`` property (Pillow >= 11) or a plain ``im`` attribute (older), the
    ``__array_interface__`` property and ``ImageFile.__init__``."""
    problems = []
    im = Image.Image.__dict__.get("im", _ABSENT)
    if im is not _ABSENT and not (isinstance(im, property) and im.fget is not None and im.fset is not None):
        problems.append("Image.Image.im is neither a plain attribute nor a settable property")
    interface = Image.Image.__dict__.get("__array_interface__")
    if not (isinstance(interface, property) and interface.fget is not None):
        problems.append("Image.Image.__array_interface__ is not a property")
    if "__init__" not in ImageFile.ImageFile.__dict__:
        problems.append("ImageFile.ImageFile defines no __init__")
    if not hasattr(Image, "core") or not hasattr(getattr(Image, "core"), "get_stats"):  # noqa: B009
        problems.append("PIL.Image.core has no get_stats()")
    if problems:
        raise UnsupportedDependency(
            f"pytest-glleak cannot track images with Pillow {pillow_version()} "
            f"(supported: Pillow >= {OLDEST_PILLOW}): {'; '.join(problems)}. "
            "Install a supported Pillow, or run with --glleak-mode=off."
        )


def _instance_im_get(image: Any) -> Any:
    try:
        return image.__dict__["im"]
    except KeyError:
        raise AttributeError("im") from None


def _instance_im_set(image: Any, core: Any) -> None:
    image.__dict__["im"] = core


def _instance_im_del(image: Any) -> None:
    try:
        del image.__dict__["im"]
    except KeyError:
        raise AttributeError("im") from None


#: Pillow < 11 has no ``Image.im`` property: this one keeps the value where Pillow itself keeps it.
_INSTANCE_IM = property(_instance_im_get, _instance_im_set, _instance_im_del, "The image's pixel core.")


class _Interface:
    """An object NumPy converts through the ``__array_interface__`` it holds (Pillow's, unchanged)."""

    __slots__ = ("__array_interface__",)

    def __init__(self, interface: dict[str, Any]) -> None:
        self.__array_interface__ = interface


def install_hooks(tracker: ImageTracker) -> tuple[Installed, list[object]]:
    """Wrap the ``Image.im`` setter, ``Image.__array_interface__`` and ``ImageFile.__init__``; add
    ``Image.__array_struct__`` and ``Image.__array__`` (NumPy's conversions, tracked) for ``tracker``.

    Returns what was replaced and the wrappers put in its place, for :func:`uninstall_hooks`.
    """
    check_supported()
    # Another tracker's wrappers may already be there (the plugin's, while a test drives its own
    # tracker): this one wraps them, so both see every image; uninstall must then go in reverse.
    # Pillow >= 11: ``im`` is a property over ``_im``. Pillow < 11: a plain instance attribute, so a
    # data descriptor storing into the instance's own ``im`` slot stands in for the property (images
    # made before install keep working, and so do those made while installed after uninstall).
    original_im = Image.Image.__dict__.get("im", _ABSENT)
    im_property = _INSTANCE_IM if original_im is _ABSENT else original_im
    original_interface = Image.Image.__dict__["__array_interface__"]
    live = tracker._live
    drop = tracker._drop
    store = im_property.fset
    assert store is not None  # check_supported()

    # Every decoded image gets its pixels through this setter: Image.new/_new (convert, resize,
    # copy, crop...), ImageFile.load, frombytes, unpickling. One record per image, at its first core.
    def record_image(image: Any, key: int, core_seq: int, frame: Any) -> None:
        # One record per image, dropped by its weak reference's callback; the site starts at ``frame``.
        ref = KeyedRef(image, drop)
        ref.key = key
        tracker._created += 1
        live[key] = TrackedBuffer(
            ref,
            tracker._seq,
            "pil_image",
            capture(tracker.capture_depth, frame, imports=True),
            tracker.current_phase(),
            core_seq,
        )

    def set_im(image: Any, core: Any) -> None:
        store(image, core)
        if type(core) is not CORE_TYPE:
            return
        tracker._seq += 1
        key = id(image)
        record = live.get(key)
        if record is not None:
            record.core_seq = tracker._seq
            return
        record_image(image, key, tracker._seq, sys._getframe(1))

    # A lazily opened file has no core until load(): record it at open, so that decoding it later
    # (say, in a test using a session fixture's image) is not taken for a new image.
    original_file_init = ImageFile.ImageFile.__dict__["__init__"]

    @functools.wraps(original_file_init)
    def file_init(image: Any, *args: Any, **kwargs: Any) -> None:
        original_file_init(image, *args, **kwargs)
        key = id(image)
        if key not in live:
            tracker._seq += 1
            record_image(image, key, -1, sys._getframe(1))

    def array_struct(image: Any) -> Any:
        # NumPy looks up __array_struct__ then __array_interface__ on the same instance, from the
        # same call, before trying __array__: remember this probe so the interface lookup that follows
        # can step aside (see array_interface). Pillow defines no __array_struct__: always absent.
        frame = sys._getframe(1)
        _numpy_probe[0] = (id(image), id(frame), frame.f_lasti)
        raise AttributeError("__array_struct__")

    def array_interface(image: Any) -> Any:
        probe = _numpy_probe[0]
        if probe is not None:
            _numpy_probe[0] = None
            frame = sys._getframe(1)
            if probe == (id(image), id(frame), frame.f_lasti):
                # NumPy's probe (struct then interface from one instruction): send it on to
                # __array__, which builds the array here and tracks it, copy included.
                raise AttributeError("__array_interface__")
        interface = original_interface.fget(image)
        pixels = interface.get("data")
        if type(pixels) is bytes:
            pixels = interface["data"] = memoryview(pixels)
        if type(pixels) is memoryview:
            tracker._track_view(pixels, interface, sys._getframe(1))
        return interface

    # Another tracker's __array__ (stacked trackers): call it, so that both track the result.
    previous_array = Image.Image.__dict__.get("__array__", _ABSENT)
    previous_struct = Image.Image.__dict__.get("__array_struct__", _ABSENT)
    build = previous_array if previous_array is not _ABSENT else None
    pillow_interface = original_interface.fget

    def to_array(image: Any, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
        """NumPy's conversion while pytest-glleak tracks images: Pillow's pixels, tracked."""
        _numpy_probe[0] = None
        if build is not None:
            result: np.ndarray[Any, Any] = build(image, dtype, copy)
        else:
            interface = pillow_interface(image)
            pixels = interface.get("data")
            if type(pixels) is bytes:
                interface["data"] = memoryview(pixels)
            view = np.asarray(_Interface(interface))  # exactly what NumPy makes of Pillow's interface
            if copy:
                result = np.array(view, dtype=dtype, copy=True)
            elif dtype is not None and np.dtype(dtype) != view.dtype:
                if copy is False:
                    raise ValueError("Unable to avoid copy while creating an array as requested.")
                result = view.astype(dtype)
            else:
                result = view
        if copy is None:
            pending[0] = True  # NumPy < 2.1 may copy what this returns itself (see convert_wrapper)
        tracker._track_array(result, sys._getframe(1))
        return result

    # NumPy < 2.1 never passes copy=True to __array__: np.array(image) gets the view above and copies it
    # itself, out of sight. Its conversion functions are wrapped there (only there): when a conversion
    # went through to_array and came back as an array that owns its data, that array is the copy.
    pending: list[bool] = [False]

    def convert_wrapper(convert: Any) -> Any:
        @functools.wraps(convert)
        def converting(*args: Any, **kwargs: Any) -> Any:
            outer = pending[0]
            pending[0] = False
            try:
                result = convert(*args, **kwargs)
                if pending[0] and type(result) is np.ndarray and result.base is None:
                    tracker._track_array(result, sys._getframe(1))
                return result
            finally:
                pending[0] = outer

        return converting

    installed: list[tuple[Any, str, Any]] = [
        (Image.Image, "im", original_im),
        (Image.Image, "__array_interface__", original_interface),
        (ImageFile.ImageFile, "__init__", original_file_init),
        (Image.Image, "__array_struct__", previous_struct),
        (Image.Image, "__array__", previous_array),
    ]
    wrappers: list[object] = [
        property(im_property.fget, set_im, im_property.fdel, im_property.__doc__),
        property(array_interface, doc=original_interface.__doc__),
        file_init,
        property(array_struct),
        to_array,
    ]
    if NUMPY_COPIES_ITSELF:
        for name in NUMPY_CONVERSIONS:
            original = np.__dict__[name]
            installed.append((np, name, original))
            wrappers.append(convert_wrapper(original))
    for (cls, name, _), wrapper in zip(installed, wrappers, strict=True):
        setattr(cls, name, wrapper)
    return installed, wrappers


def uninstall_hooks(installed: Installed, wrappers: list[object]) -> None:
    """Put back what :func:`install_hooks` replaced.

    Raises RuntimeError if hooks installed after these are still installed.
    """
    for (cls, name, _), wrapper in zip(installed, wrappers, strict=True):
        if cls.__dict__.get(name) is not wrapper:
            raise RuntimeError(
                f"{cls.__name__}.{name} was wrapped again after this tracker; uninstall that first"
            )
    for cls, name, original in reversed(installed):
        if original is _ABSENT:
            delattr(cls, name)
        else:
            setattr(cls, name, original)
    _numpy_probe[0] = None
