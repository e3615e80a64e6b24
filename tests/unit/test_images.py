"""ImageTracker against real Pillow and NumPy: what it catches, what it must not flag, what it costs."""

from __future__ import annotations

import functools
import gc
import importlib
import io
import json
import runpy
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pytest_glleak.findings import Frame, LeakedImage
from pytest_glleak.heap import ImageTracker, TrackingToken
from pytest_glleak.heap.pixels import pillow_blocks_in_use, pixel_bytes
from pytest_glleak.report.image_text import format_image_leaks

# Module-level holders the leaky "code under test" below uses; each test empties what it filled.
VIEWER_CACHE: dict[str, Any] = {}
DECODED_FRAMES: list[Any] = []
ORPHAN_CORES: list[Any] = []
GLOBAL_HOLDER: dict[str, Any] = {}


@pytest.fixture
def tracker(request: pytest.FixtureRequest) -> Iterator[ImageTracker]:
    tracker = ImageTracker()
    # Precise mode: NumPy's data-memory handler by default, tracemalloc where NumPy lacks it.
    tracker.use_handler = getattr(request, "param", "handler") == "handler"
    tracker.install()
    try:
        yield tracker
    finally:
        tracker.uninstall()
        for holder in (VIEWER_CACHE, DECODED_FRAMES, ORPHAN_CORES, GLOBAL_HOLDER):
            holder.clear()


def encoded(fmt: str, size: tuple[int, int] = (96, 64), mode: str = "RGB") -> bytes:
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, fmt)
    return buffer.getvalue()


#: Precise-mode tests run against both ways of seeing NumPy's allocations.
BOTH_BACKENDS = pytest.mark.parametrize("tracker", ["handler", "tracemalloc"], indirect=True)

#: NumPy 1.x: no copy=None, no np.asarray(copy=...).
NUMPY_BEFORE_2 = np.lib.NumpyVersion(np.__version__) < "2.0.0"

PNG = encoded("PNG")
JPEG = encoded("JPEG")


def run_test(
    tracker: ImageTracker,
    body: Callable[[], object],
    *,
    precise: bool = False,
    min_bytes: int = 65536,
    allow: int = 0,
    before_check: Callable[[], object] | None = None,
) -> list[LeakedImage]:
    """What the plugin does around one test: start, phases, the before-check hook, verdict, stop."""
    token = tracker.start("tests/test_x.py::test_body", min_bytes=min_bytes, precise=precise)
    try:
        tracker.set_phase("call")
        body()
        tracker.set_phase("teardown")
        if before_check is not None:
            before_check()
        return tracker.leaks(token, allow=allow)
    finally:
        tracker.stop(token)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_stack_depth_bounds_image_sites_as_it_does_gl_sites(depth: int) -> None:
    def decode() -> None:
        GLOBAL_HOLDER["image"] = Image.new("RGB", (64, 64))

    def body() -> None:
        decode()

    tracker = ImageTracker(stack_depth=depth)
    tracker.install()
    try:
        (item,) = run_test(tracker, body)
    finally:
        tracker.uninstall()
        GLOBAL_HOLDER.clear()

    functions = [frame["function"] for frame in item["create_site"]]
    assert len(functions) == depth
    assert all(frame["file"] == __file__ for frame in item["create_site"])
    if depth:
        assert functions[0].endswith("image_sites_as_it_does_gl_sites.<locals>.decode")


# --- caught -----------------------------------------------------------------------------------------


def test_image_kept_in_module_level_dict_is_caught(tracker: ImageTracker) -> None:
    def body() -> None:
        VIEWER_CACHE["splash"] = Image.open(io.BytesIO(PNG)).convert("RGBA")

    leaked = run_test(tracker, body)

    assert len(leaked) == 1
    (item,) = leaked
    assert item["kind"] == "pil_image"
    assert item["mode"] == "RGBA" and item["shape"] == [96, 64]
    assert item["bytes"] == 96 * 64 * 4
    assert item["held_by"] is not None
    assert "VIEWER_CACHE" in item["held_by"] and "in module" in item["held_by"]
    assert "'splash'" in item["held_by"]
    assert item["create_site"][0]["function"].endswith("module_level_dict_is_caught.<locals>.body")
    assert item["create_site"][0]["file"] == __file__


def test_numpy_array_decoded_from_image_kept_in_list_is_caught(tracker: ImageTracker) -> None:
    def body() -> None:
        image = Image.open(io.BytesIO(JPEG))
        DECODED_FRAMES.append(np.asarray(image.resize((256, 128))))

    leaked = run_test(tracker, body)

    assert [item["kind"] for item in leaked] == ["ndarray"]
    (item,) = leaked
    assert item["dtype"] == "uint8" and item["shape"] == [128, 256, 3]
    assert item["bytes"] == 128 * 256 * 3
    assert item["held_by"] is not None and "list DECODED_FRAMES" in item["held_by"]
    assert any(frame["function"].endswith("body") for frame in item["create_site"])


@BOTH_BACKENDS
def test_image_backed_array_kept_is_reported_once_in_precise_mode(tracker: ImageTracker) -> None:
    # np.asarray(image) is backed by a tobytes() result: one leak, not an array plus its bytes.
    def body() -> None:
        DECODED_FRAMES.append(np.asarray(Image.open(io.BytesIO(PNG)).resize((200, 150))))

    leaked = run_test(tracker, body, precise=True)

    assert [item["kind"] for item in leaked] == ["ndarray"]
    assert leaked[0]["shape"] == [150, 200, 3] and leaked[0]["bytes"] == 150 * 200 * 3


@BOTH_BACKENDS
def test_copied_array_from_image_kept_in_list_is_caught_in_precise_mode(tracker: ImageTracker) -> None:
    def body() -> None:
        DECODED_FRAMES.append(np.array(Image.open(io.BytesIO(PNG)).resize((200, 150))))

    leaked = run_test(tracker, body, precise=True)

    assert [item["kind"] for item in leaked] == ["ndarray"]
    assert leaked[0]["shape"] == [150, 200, 3] and leaked[0]["dtype"] == "uint8"
    assert leaked[0]["held_by"] is not None and "DECODED_FRAMES" in leaked[0]["held_by"]
    assert any(frame["file"] == __file__ for frame in leaked[0]["create_site"])


@BOTH_BACKENDS
def test_large_array_from_numpy_ops_kept_in_global_is_caught_in_precise_mode(tracker: ImageTracker) -> None:
    def body() -> None:
        pixels = np.zeros((256, 256, 4), dtype=np.float32)
        GLOBAL_HOLDER["accumulated"] = pixels * 2 + 1  # a fresh 1 MiB array

    leaked = run_test(tracker, body, precise=True)

    assert len(leaked) == 1
    assert leaked[0]["kind"] == "ndarray" and leaked[0]["dtype"] == "float32"
    assert leaked[0]["bytes"] == 256 * 256 * 4 * 4
    assert leaked[0]["held_by"] is not None and "GLOBAL_HOLDER" in leaked[0]["held_by"]


@pytest.mark.parametrize("operation", ["pad", "stack", "flipud-copy"])
@BOTH_BACKENDS
def test_precise_mode_sites_reach_the_test_through_numpy_wrappers(
    tracker: ImageTracker, operation: str
) -> None:
    # TRACE_FRAMES is small (each traced frame costs): NumPy's Python wrappers must still leave room
    # for the test's own line.
    def body() -> None:
        pixels = np.zeros((256, 256), dtype=np.float32)
        if operation == "pad":
            GLOBAL_HOLDER["made"] = np.pad(pixels, 8)
        elif operation == "stack":
            GLOBAL_HOLDER["made"] = np.stack([pixels, pixels])
        else:
            GLOBAL_HOLDER["made"] = np.flipud(pixels).copy()

    leaked = run_test(tracker, body, precise=True)

    assert [item["kind"] for item in leaked] == ["ndarray"]
    site = leaked[0]["create_site"]
    lines = {body.__code__.co_firstlineno + offset for offset in (3, 5, 7)}
    assert site and site[0]["file"] == __file__ and site[0]["line"] in lines
    assert site[0]["function"].endswith("through_numpy_wrappers.<locals>.body")


MAKE_LARGE = lambda: np.ones((300, 300))  # noqa: E731 (a module-level lambda, called by a test)


@BOTH_BACKENDS
def test_array_made_by_a_module_level_lambda_is_not_taken_for_import_time_code(tracker: ImageTracker) -> None:
    leaked = run_test(tracker, lambda: GLOBAL_HOLDER.update(made=MAKE_LARGE()), precise=True)

    assert [item["kind"] for item in leaked] == ["ndarray"]
    assert leaked[0]["create_site"][0]["function"] == "<lambda>"


@BOTH_BACKENDS
def test_precise_mode_without_large_blocks_passes_even_with_many_small_ones(tracker: ImageTracker) -> None:
    def body() -> None:
        GLOBAL_HOLDER["small"] = [np.ones(100) for _ in range(200)]  # 160 KB in all, 800 B each

    assert run_test(tracker, body, precise=True) == []


@BOTH_BACKENDS
def test_tobytes_output_kept_is_caught_in_precise_mode(tracker: ImageTracker) -> None:
    def body() -> None:
        GLOBAL_HOLDER["raw"] = Image.new("RGBA", (128, 128)).tobytes()

    leaked = run_test(tracker, body, precise=True)

    assert [item["kind"] for item in leaked] == ["bytes"]
    assert leaked[0]["bytes"] >= 128 * 128 * 4


def test_image_held_by_closure_is_caught(tracker: ImageTracker) -> None:
    callbacks: list[Callable[[], Any]] = []

    def load() -> Callable[[], Any]:
        frame = Image.open(io.BytesIO(PNG)).convert("L")

        def redraw() -> Any:
            return frame.getpixel((0, 0))

        return redraw

    leaked = run_test(tracker, lambda: callbacks.append(load()))

    assert len(leaked) == 1
    assert leaked[0]["mode"] == "L"
    assert leaked[0]["held_by"] is not None
    assert "closure cell 'frame'" in leaked[0]["held_by"] and "redraw" in leaked[0]["held_by"]
    callbacks.clear()


class ThumbnailCache:
    """An unbounded cache: every size ever asked for stays forever."""

    def __init__(self) -> None:
        self.thumbnails: dict[tuple[int, int], Any] = {}

    def get(self, image: Any, size: tuple[int, int]) -> Any:
        if size not in self.thumbnails:
            self.thumbnails[size] = image.resize(size)
        return self.thumbnails[size]


def test_unbounded_cache_of_resized_images_is_caught(tracker: ImageTracker) -> None:
    def body() -> None:
        cache = GLOBAL_HOLDER.setdefault("thumbnails", ThumbnailCache())
        source = Image.open(io.BytesIO(PNG))
        for side in (16, 32, 48, 64, 80):
            cache.get(source, (side, side))

    leaked = run_test(tracker, body)

    assert sorted(item["shape"][0] for item in leaked) == [16, 32, 48, 64, 80]
    assert all(item["kind"] == "pil_image" and item["mode"] == "RGB" for item in leaked)
    for item in leaked:
        assert item["held_by"] is not None
        assert "attribute thumbnails of ThumbnailCache instance" in item["held_by"]


def test_functools_cache_of_images_is_caught(tracker: ImageTracker) -> None:
    @functools.cache
    def decode(name: str) -> Any:
        return Image.open(io.BytesIO(PNG)).convert("RGB")

    leaked = run_test(tracker, lambda: [decode(name) for name in "abc"])

    assert len(leaked) == 3
    decode.cache_clear()


def test_buffer_only_pillows_counters_see_is_caught(tracker: ImageTracker) -> None:
    def body() -> None:
        # The Image wrapper dies; its pixel core (invisible to gc and weakrefs) lives on.
        ORPHAN_CORES.append(Image.new("RGB", (128, 96), "red").im)

    leaked = run_test(tracker, body)

    assert [item["kind"] for item in leaked] == ["pillow_blocks"]
    assert leaked[0]["count"] == 1
    assert leaked[0]["held_by"] is not None
    assert "orphan image core (RGB 128x96" in leaked[0]["held_by"] and "ORPHAN_CORES" in leaked[0]["held_by"]


def test_image_kept_by_an_imagedraw_is_caught(tracker: ImageTracker) -> None:
    def body() -> None:
        GLOBAL_HOLDER["draw"] = ImageDraw.Draw(Image.new("L", (64, 64)))

    leaked = run_test(tracker, body)

    assert [item["kind"] for item in leaked] == ["pil_image"]
    assert leaked[0]["held_by"] is not None and "ImageDraw instance" in leaked[0]["held_by"]


def test_lazily_opened_image_kept_undecoded_is_reported_without_bytes(tracker: ImageTracker) -> None:
    leaked = run_test(tracker, lambda: VIEWER_CACHE.update(lazy=Image.open(io.BytesIO(PNG))))

    assert len(leaked) == 1 and leaked[0]["bytes"] == 0 and leaked[0]["shape"] == [96, 64]
    assert "not decoded yet" in format_image_leaks(leaked)


# --- passing ----------------------------------------------------------------------------------------


def test_images_created_and_dropped_pass_without_a_garbage_collection(tracker: ImageTracker) -> None:
    collections: list[str] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(phase)

    def body() -> None:
        image = Image.open(io.BytesIO(JPEG)).convert("RGBA").resize((200, 200))
        array = np.asarray(image)
        Image.fromarray(array[::2, ::2].copy()).rotate(90)

    gc.collect()
    gc.disable()
    gc.callbacks.append(count)
    try:
        leaked = run_test(tracker, body)
    finally:
        gc.callbacks.remove(count)
        gc.enable()
    assert leaked == []
    assert collections == []  # the clean path must not collect


def test_bounded_cache_cleared_before_the_check_passes(tracker: ImageTracker) -> None:
    def body() -> None:
        cache = GLOBAL_HOLDER.setdefault("recent", {})
        for side in (10, 20, 30, 40):
            cache[side] = Image.new("RGB", (side, side))
            if len(cache) > 2:
                del cache[min(cache)]

    leaked = run_test(tracker, body, before_check=lambda: GLOBAL_HOLDER["recent"].clear())

    assert leaked == []


def test_image_in_a_dropped_reference_cycle_passes_after_one_collection(tracker: ImageTracker) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self
            self.image = Image.new("RGB", (64, 64))

    leaked = run_test(tracker, lambda: Node())

    assert leaked == []


def test_allow_tolerates_that_many_leaked_buffers(tracker: ImageTracker) -> None:
    def body() -> None:
        VIEWER_CACHE["one"] = Image.new("L", (8, 8))

    assert run_test(tracker, body, allow=1) == []
    VIEWER_CACHE.clear()

    def two() -> None:
        VIEWER_CACHE["a"] = Image.new("L", (8, 8))
        VIEWER_CACHE["b"] = Image.new("L", (9, 9))

    assert len(run_test(tracker, two, allow=1)) == 1


def test_images_owned_by_wider_scoped_fixtures_are_not_the_tests_leaks(tracker: ImageTracker) -> None:
    def body() -> None:
        tracker.set_phase("fixture:session")
        GLOBAL_HOLDER["session_image"] = Image.new("RGB", (32, 32))
        tracker.set_phase("call")

    assert run_test(tracker, body) == []


def test_lazy_image_opened_before_and_decoded_during_the_test_is_not_reported(tracker: ImageTracker) -> None:
    GLOBAL_HOLDER["lazy"] = Image.open(io.BytesIO(encoded("PNG", (300, 300))))  # not decoded yet

    leaked = run_test(tracker, lambda: GLOBAL_HOLDER["lazy"].load())

    assert leaked == []  # its new pixel blocks are explained by a tracked image


def test_small_image_arrays_below_min_bytes_are_not_reported(tracker: ImageTracker) -> None:
    def body() -> None:
        DECODED_FRAMES.append(np.asarray(Image.new("L", (16, 16))))

    assert run_test(tracker, body, min_bytes=65536) == []
    DECODED_FRAMES.clear()

    def again() -> None:
        DECODED_FRAMES.append(np.asarray(Image.new("L", (16, 16))))

    assert [item["kind"] for item in run_test(tracker, again, min_bytes=64)] == ["ndarray"]


def test_copied_array_kept_is_caught_by_the_cheap_path(tracker: ImageTracker) -> None:
    # np.array(image) copies: NumPy is sent to Image.__array__, which makes the copy and tracks it.
    def body() -> None:
        DECODED_FRAMES.append(np.array(Image.new("RGB", (200, 200))))

    creation_line = body.__code__.co_firstlineno + 1
    leaked = run_test(tracker, body)

    assert [(item["kind"], item["dtype"], item["shape"]) for item in leaked] == [
        ("ndarray", "uint8", [200, 200, 3])
    ]
    assert leaked[0]["bytes"] == 200 * 200 * 3
    assert leaked[0]["create_site"][0]["line"] == creation_line
    assert leaked[0]["held_by"] is not None and "DECODED_FRAMES" in leaked[0]["held_by"]


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda image: np.array(image, dtype=np.float32), id="array-dtype"),
        pytest.param(lambda image: np.asarray(image, dtype=np.float64), id="asarray-dtype"),
        pytest.param(lambda image: np.array(image)[::2], id="view-of-copy"),
        pytest.param(lambda image: np.ascontiguousarray(image), id="ascontiguousarray"),
        pytest.param(lambda image: np.asanyarray(image).reshape(-1), id="asanyarray-view"),
    ],
)
def test_every_numpy_conversion_kept_is_caught_by_the_cheap_path(
    tracker: ImageTracker, convert: Callable[[Any], Any]
) -> None:
    leaked = run_test(tracker, lambda: DECODED_FRAMES.append(convert(Image.new("RGB", (200, 200)))))

    assert [item["kind"] for item in leaked] == ["ndarray"]


@BOTH_BACKENDS
def test_copied_array_is_reported_once_in_precise_mode(tracker: ImageTracker) -> None:
    # The copy's record and its NumPy tracemalloc block are one leak.
    leaked = run_test(
        tracker, lambda: DECODED_FRAMES.append(np.array(Image.new("RGB", (200, 200)))), precise=True
    )

    assert [(item["kind"], item["shape"]) for item in leaked] == [("ndarray", [200, 200, 3])]


@BOTH_BACKENDS
def test_arrays_derived_by_numpy_operations_are_not_seen_by_the_cheap_path(tracker: ImageTracker) -> None:
    # The documented limit: a new array made by NumPy from a tracked one (a copy of a slice, astype,
    # arithmetic) is invisible without tracemalloc; precise mode sees it.
    def body() -> None:
        DECODED_FRAMES.append(np.asarray(Image.new("RGB", (300, 300)))[::2].copy())  # 135,000 B

    assert run_test(tracker, body) == []
    DECODED_FRAMES.clear()
    assert [item["kind"] for item in run_test(tracker, body, precise=True)] == ["ndarray"]


def test_dropped_numpy_conversions_pass(tracker: ImageTracker) -> None:
    def body() -> None:
        image = Image.new("RGB", (200, 200))
        total = (
            np.array(image).sum() + np.asarray(image, dtype=np.float32).sum() + np.asarray(image)[::3].sum()
        )
        assert total == 0

    assert run_test(tracker, body) == []


IMAGE_MODES = [
    "1",
    "L",
    "P",
    "LA",
    "PA",
    "RGB",
    "RGBA",
    "CMYK",
    "YCbCr",
    "LAB",
    "HSV",
    "I",
    "F",
    "I;16",
    "I;16B",
]


_CONVERSIONS = {
    "asarray": "np.asarray(image)",
    "array": "np.array(image)",
    "array-copy-false": "np.array(image, copy=False)",
    "asarray-float": "np.asarray(image, dtype=np.float64)",
    "asanyarray": "np.asanyarray(image)",
    "ascontiguousarray": "np.ascontiguousarray(image)",
    "stacked": "np.array([image, image])",
}
if not NUMPY_BEFORE_2:  # copy=None ("copy only if needed") is NumPy 2 API; 1.x raises for it
    _CONVERSIONS["array-copy-none"] = "np.array(image, copy=None)"
_MAKE_IMAGE = """
from PIL import Image
def make(mode):
    if mode.startswith("I;16"):
        return Image.new(mode, (7, 5), 4660)
    base = Image.linear_gradient("L").resize((7, 5))
    if mode == "LAB":  # Pillow < 10.1 cannot convert L (or RGB) to LAB
        return Image.merge("LAB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), base))
    return base.convert("RGB").convert(mode) if mode in ("1", "P") else base.convert(mode)
"""


def _describe(array: Any) -> tuple[str, str, tuple[int, ...], bool, str]:
    return (
        type(array).__name__,
        array.dtype.str,
        array.shape,
        bool(array.flags.writeable),
        _hex(array),
    )


def _hex(array: Any) -> str:
    # NumPy < 1.25 makes an object array of images for np.array([image, image]) (with a FutureWarning):
    # its bytes are pointers, different in every process.
    return "objects" if array.dtype.kind == "O" else str(array.tobytes().hex())


@pytest.fixture(scope="module")
def pillows_own() -> dict[str, dict[str, Any]]:
    """Pillow's own conversions, made in a fresh interpreter where no tracker (the plugin's neither) is installed."""
    script = (
        _MAKE_IMAGE
        + "import json, numpy as np\n"
        + f"modes, conversions = {IMAGE_MODES!r}, {_CONVERSIONS!r}\n"
        + "out = {}\n"
        + "for mode in modes:\n"
        + "    image = make(mode)\n"
        + "    out[mode] = {n: (type(a).__name__, a.dtype.str, list(a.shape), bool(a.flags.writeable), 'objects' if a.dtype.kind == 'O' else a.tobytes().hex())"
        + " for n, a in ((n, eval(c)) for n, c in conversions.items())}\n"
        + "    i = image.__array_interface__\n"
        + "    out[mode]['interface'] = [i['typestr'], list(i['shape']), type(i['data']).__name__, i['data'].hex()]\n"
        + "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    result: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("mode", IMAGE_MODES)
def test_numpy_conversions_match_pillows_own(
    tracker: ImageTracker, pillows_own: dict[str, dict[str, Any]], mode: str
) -> None:
    namespace: dict[str, Any] = {}
    exec(_MAKE_IMAGE, namespace)
    image = namespace["make"](mode)
    expected = pillows_own[mode]
    interface = image.__array_interface__  # a direct read: Pillow's dict (data as a memoryview of its bytes)
    assert [interface["typestr"], list(interface["shape"]), interface["data"].hex()] == [
        expected["interface"][0],
        expected["interface"][1],
        expected["interface"][3],
    ]
    assert not hasattr(image, "__array_struct__")
    for name, conversion in _CONVERSIONS.items():
        kind, dtype, shape, writeable, data = _describe(eval(conversion, {"np": np, "image": image}))
        assert [kind, dtype, list(shape), writeable, data] == expected[name], name


@pytest.mark.skipif(NUMPY_BEFORE_2, reason="np.asarray(copy=...) is NumPy 2 API")
def test_numpy_copy_false_with_a_dtype_change_raises_as_without_the_tracker(tracker: ImageTracker) -> None:
    with pytest.raises(ValueError, match="copy"):
        np.asarray(Image.new("L", (4, 4)), dtype=np.float32, copy=False)


def test_direct_array_interface_reads_still_work_after_a_struct_probe(tracker: ImageTracker) -> None:
    image = Image.new("RGB", (4, 3))
    assert not hasattr(image, "__array_struct__")
    interface = image.__array_interface__  # another instruction: not NumPy's probe
    assert interface["shape"] == (3, 4, 3) and interface["typestr"] == "|u1"
    assert Image.fromarray(np.asarray(image)).size == (4, 3)


def test_touched_since_reports_whether_the_test_made_images(tracker: ImageTracker) -> None:
    token = tracker.start("t")
    assert not tracker.touched_since(token)
    Image.new("L", (4, 4))
    assert tracker.touched_since(token)
    tracker.stop(token)
    token = tracker.start("t2")
    np.zeros((100, 100))
    assert not tracker.touched_since(token)
    np.asarray(Image.new("L", (4, 4)))
    assert tracker.touched_since(token)
    tracker.stop(token)


@pytest.mark.parametrize("tracker", ["tracemalloc"], indirect=True)
def test_precise_mode_starts_and_stops_tracemalloc_only_when_it_was_off(tracker: ImageTracker) -> None:
    assert not tracemalloc.is_tracing()
    token = tracker.start("t", precise=True)
    assert tracemalloc.is_tracing()
    tracker.stop(token)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        token = tracker.start("t", precise=True)
        tracker.stop(token)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


@BOTH_BACKENDS
def test_precise_mode_with_tracemalloc_already_on_reports_only_new_arrays(tracker: ImageTracker) -> None:
    tracemalloc.start(8)
    try:
        GLOBAL_HOLDER["older"] = np.ones((300, 300))
        leaked = run_test(tracker, lambda: GLOBAL_HOLDER.update(newer=np.ones((200, 200))), precise=True)
    finally:
        tracemalloc.stop()
    assert [item["shape"] for item in leaked] == [[200, 200]]


def test_uninstall_restores_pillow(tracker: ImageTracker) -> None:
    other = ImageTracker()
    wrapped = Image.Image.__dict__["im"]
    other.install()
    assert Image.Image.__dict__["im"] is not wrapped
    with pytest.raises(RuntimeError, match="wrapped again"):
        tracker.uninstall()
    other.uninstall()
    assert Image.Image.__dict__["im"] is wrapped
    image = Image.new("RGB", (4, 4))
    assert isinstance(image.__array_interface__["data"], memoryview)  # still wrapped by `tracker`
    names = ("im", "__array_interface__", "__array_struct__", "__array__")
    before = {name: Image.Image.__dict__.get(name) for name in names}
    third = ImageTracker()
    third.install()
    assert all(Image.Image.__dict__.get(name) is not before[name] for name in names)
    third.uninstall()
    assert {name: Image.Image.__dict__.get(name) for name in names} == before


def test_stacked_trackers_both_see_images(tracker: ImageTracker) -> None:
    inner = tracker.start("outer")
    other = ImageTracker()
    other.install()
    try:
        leaked = run_test(other, lambda: DECODED_FRAMES.append(np.asarray(Image.new("RGB", (200, 200)))))
        assert [item["kind"] for item in leaked] == ["ndarray"]
        assert [item["kind"] for item in tracker.leaks(inner)] == ["ndarray"]
    finally:
        other.uninstall()
        tracker.stop(inner)


def test_pixel_accounting_matches_pillow() -> None:
    assert pixel_bytes("RGB", (10, 5)) == 200  # RGB is stored 4 bytes a pixel
    assert pixel_bytes("L", (10, 5)) == 50
    assert pixel_bytes("I;16", (10, 5)) == 100
    before = pillow_blocks_in_use()
    image = Image.new("RGB", (10, 5))
    assert pillow_blocks_in_use() == before + 1
    del image
    assert pillow_blocks_in_use() == before


def test_format_image_leaks_lists_every_item_and_frame() -> None:
    frames: list[Frame] = [
        {"file": f"/src/app/module{n}.py", "line": n, "function": f"f{n}"} for n in range(1, 9)
    ]
    items: list[LeakedImage] = [
        {
            "kind": "pil_image",
            "mode": "RGBA",
            "shape": [640, 480],
            "bytes": 640 * 480 * 4,
            "create_site": frames,
            "held_by": "dict CACHE in module viewer.cache, key 'a'",
        },
        {
            "kind": "ndarray",
            "dtype": "uint8",
            "shape": [480, 640, 3],
            "bytes": 921600,
            "create_site": [],
            "held_by": None,
        },
        {"kind": "pillow_blocks", "count": 2, "create_site": [], "held_by": None},
    ]
    text = format_image_leaks(items)
    assert text.startswith("3 image buffers still alive after teardown")
    assert "Pillow image RGBA 640x480, 1.2 MiB (1,228,800 B)" in text
    assert "held by dict CACHE in module viewer.cache, key 'a'" in text
    assert all(f"/src/app/module{n}.py:{n} in f{n}" in text for n in range(1, 9))
    assert "NumPy array uint8 480x640x3, 900.0 KiB (921,600 B)" in text
    assert "2 Pillow pixel blocks in use that no live Image explains" in text


# --- no false positives over many clean image operations --------------------------------------------


def _clean_operation(number: int) -> None:
    source = PNG if number % 2 else JPEG
    image = Image.open(io.BytesIO(source))
    mode = ("RGB", "L", "RGBA", "LA", "P")[number % 5]
    converted = image.convert(mode)
    resized = converted.resize((32 + number % 50, 24 + number % 30))
    array = np.asarray(resized)
    copy = np.array(resized, dtype=np.float32) / 255.0
    back = Image.fromarray((copy * 255).astype(np.uint8))
    assert back.size == resized.size and array.shape[:2] == copy.shape[:2]
    buffer = io.BytesIO()
    back.convert("RGB").save(buffer, "JPEG" if number % 3 else "PNG")
    Image.open(io.BytesIO(buffer.getvalue())).load()


def test_two_hundred_clean_image_operations_report_nothing(tracker: ImageTracker) -> None:
    reported: list[tuple[int, list[LeakedImage]]] = []
    tokens: list[TrackingToken] = []
    for number in range(200):
        token = tracker.start(f"clean[{number}]", precise=number % 20 == 0)
        tokens.append(token)
        tracker.set_phase("call")
        _clean_operation(number)
        tracker.set_phase("teardown")
        assert tracker.touched_since(token)
        leaked = tracker.leaks(token)
        tracker.stop(token)
        if leaked:
            reported.append((number, leaked))
    assert reported == []
    assert len(tokens) == 200


@BOTH_BACKENDS
def test_precise_mode_sets_aside_arrays_of_wider_scoped_fixtures(tracker: ImageTracker) -> None:
    def body() -> None:
        tracker.set_phase("fixture:module")
        GLOBAL_HOLDER["lut"] = np.ones((300, 300))  # the fixture's, set up during this test
        tracker.set_phase("setup")
        GLOBAL_HOLDER["mine"] = np.ones((200, 200))  # the test's own

    leaked = run_test(tracker, body, precise=True)

    assert [item["shape"] for item in leaked] == [[200, 200]]


# --- import-time objects: decided by the import machinery in the stack, not by a frame's name ---------

_IMPORTED_MODULE = """
from PIL import Image


def _deep(n):
    return _deep(n - 1) if n else Image.new("RGB", (300, 300))


PROTOTYPE = _deep(8)  # made below the import, 9 user frames deep: more than a site keeps
"""


@pytest.mark.parametrize("how", ["import-statement", "import_module"])
def test_an_image_made_while_a_module_is_imported_is_the_modules_not_the_tests(
    tracker: ImageTracker, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    name = f"glleak_imported_{how.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(_IMPORTED_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)

    def body() -> None:
        if how == "import-statement":
            module = __import__(name)  # what `import name` runs
        else:
            module = importlib.import_module(name)
        GLOBAL_HOLDER["module"] = module
        DECODED_FRAMES.append(Image.new("L", (400, 400)))  # the test's own image, kept: still a leak

    leaked = run_test(tracker, body)

    assert [(item["kind"], item["mode"], item["shape"]) for item in leaked] == [
        ("pil_image", "L", [400, 400])
    ]
    sys.modules.pop(name, None)


_EXEC_LEAK = "DECODED_FRAMES.append(Image.new('RGBA', (300, 300)))"


@pytest.mark.parametrize("how", ["exec", "runpy"])
def test_an_image_made_by_code_run_with_exec_or_runpy_is_the_tests(
    tracker: ImageTracker, tmp_path: Any, how: str
) -> None:
    # Their top-level frames are named <module> too, but nothing is being imported: user code.
    script = tmp_path / "script.py"
    script.write_text(f"from PIL import Image\n{_EXEC_LEAK}\n")

    def body() -> None:
        if how == "exec":
            exec(_EXEC_LEAK, {"DECODED_FRAMES": DECODED_FRAMES, "Image": Image})
        else:
            runpy.run_path(str(script), init_globals={"DECODED_FRAMES": DECODED_FRAMES})

    leaked = run_test(tracker, body)

    assert [(item["kind"], item["mode"]) for item in leaked] == [("pil_image", "RGBA")]
    assert leaked[0]["create_site"][0]["function"] == "<module>"
    expected_file = "<string>" if how == "exec" else str(script)
    assert leaked[0]["create_site"][0]["file"] == expected_file


def test_a_pillow_plugins_prototype_image_is_never_a_leak(
    tracker: ImageTracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PalmImagePlugin builds Palm8BitColormapImage at import; Image.init() imports it during the test.
    monkeypatch.delitem(sys.modules, "PIL.PalmImagePlugin", raising=False)
    monkeypatch.setattr(Image, "_initialized", 0)  # as in a fresh process: init() imports every plugin

    def body() -> None:
        Image.init()
        GLOBAL_HOLDER["palm"] = sys.modules["PIL.PalmImagePlugin"]
        DECODED_FRAMES.append(Image.new("L", (400, 400)))

    leaked = run_test(tracker, body)

    assert [(item["kind"], item["mode"], item["shape"]) for item in leaked] == [
        ("pil_image", "L", [400, 400])
    ]


def test_a_pillow_without_the_hooked_entry_points_is_a_clear_error_naming_its_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import PIL

    from pytest_glleak.errors import UnsupportedDependency

    monkeypatch.setattr(Image.Image, "__array_interface__", None)
    before = dict(Image.Image.__dict__)
    tracker = ImageTracker()
    with pytest.raises(UnsupportedDependency, match=f"Pillow {PIL.__version__} .*__array_interface__"):
        tracker.install()
    assert not tracker.installed
    assert dict(Image.Image.__dict__) == before  # nothing of ours left behind


def test_on_pillow_before_11_the_im_attribute_is_a_property_only_while_installed(
    tracker: ImageTracker,
) -> None:
    # Pillow < 11 keeps the core in the instance's own "im"; the tracker's stand-in property keeps it there.
    image = Image.new("L", (8, 8))
    assert image.im is not None and image.getpixel((0, 0)) == 0
    if "_im" not in image.__dict__:
        assert image.__dict__["im"] is image.im
