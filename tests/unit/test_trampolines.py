"""Recording trampolines over C entry points (no GL driver: the "real" functions are ctypes callbacks)."""

from __future__ import annotations

import ctypes
import itertools
from typing import Any

from pytest_glleak.ledger import Ledger
from pytest_glleak.ledger.moderngl_hooks import LedgerLoader, ModernglHooks
from pytest_glleak.ledger.trampolines import Trampolines

GEN = ctypes.CFUNCTYPE(None, ctypes.c_uint, ctypes.c_void_p)
STORAGE = ctypes.CFUNCTYPE(None, ctypes.c_uint, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_uint)
names = itertools.count(7)
calls: list[str] = []


@GEN
def fake_gen(count: int, pointer: int) -> None:
    array = (ctypes.c_uint * count).from_address(pointer)
    for index in range(count):
        array[index] = next(names)
    calls.append("gen")


@GEN
def fake_delete(count: int, pointer: int) -> None:
    calls.append("delete")


def _address(function: Any) -> int:
    return int(ctypes.cast(function, ctypes.c_void_p).value or 0)


def make_ledger() -> Ledger:
    ledger = Ledger(stack_depth=3, current_context=lambda: 0x1000)
    ledger.test, ledger.phase = "test_x.py::test_y", "call"
    return ledger


def test_trampoline_calls_the_real_function_then_records_names_from_the_callers_array() -> None:
    ledger = make_ledger()
    trampolines = Trampolines(ledger)
    trampolines.attach()
    gen = GEN(trampolines.address("glGenTextures", _address(fake_gen)))
    delete = GEN(trampolines.address("glDeleteTextures", _address(fake_delete)))
    out = (ctypes.c_uint * 2)()
    gen(2, ctypes.addressof(out))  # this line is the creation site
    assert calls[-1] == "gen"
    live = ledger.live("texture")
    assert [record.name for record in live] == list(out)
    assert live[0].create_site[0]["function"] == (
        "test_trampoline_calls_the_real_function_then_records_names_from_the_callers_array"
    )
    delete(2, ctypes.addressof(out))
    assert calls[-1] == "delete"
    assert ledger.live("texture") == []
    assert not trampolines.errors


def test_detached_trampolines_pass_straight_through() -> None:
    ledger = make_ledger()
    trampolines = Trampolines(ledger)
    trampolines.attach()
    gen = GEN(trampolines.address("glGenBuffers", _address(fake_gen)))
    trampolines.detach()
    out = (ctypes.c_uint * 1)()
    gen(1, ctypes.addressof(out))
    assert out[0] and calls[-1] == "gen"
    assert ledger.live() == []


def test_unhooked_entry_points_keep_their_real_address() -> None:
    trampolines = Trampolines(make_ledger())
    assert trampolines.address("glBindTexture", 1234) == 1234
    assert trampolines.address("glGenTextures", 0) == 0


def test_storage_call_through_a_trampoline_sizes_the_bound_buffer() -> None:
    ledger = make_ledger()
    ledger.record_created("buffer", [3])
    trampolines = Trampolines(ledger)
    trampolines.attach()

    @STORAGE
    def fake_named_storage(name: int, size: int, data: int, flags: int) -> None:
        calls.append("storage")

    storage = STORAGE(trampolines.address("glNamedBufferStorage", _address(fake_named_storage)))
    storage(3, 4096, None, 0)
    assert ledger.live("buffer")[0].nbytes == 4096


class FakeLoader:
    """The moderngl loader protocol, as glcontext's backends implement it."""

    def __init__(self) -> None:
        self.released = False

    def load_opengl_function(self, name: str) -> int:
        return {"glGenQueries": _address(fake_gen), "glGenTextures": 98, "glBindTexture": 99}.get(name, 0)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: Any) -> None:
        return None

    def release(self) -> None:
        self.released = True


def test_loader_hands_out_trampolines_and_ends_its_own_context_at_release() -> None:
    ledger = make_ledger()
    hooks = ModernglHooks(ledger)
    hooks.trampolines.attach()
    inner = FakeLoader()
    loader = LedgerLoader(inner, hooks, owns=True)
    loader.handle = 0x1000
    ledger.context_created(0x1000)
    assert loader.load_opengl_function("glBindTexture") == 99
    # Recorded at moderngl's Python layer (Context.texture, Texture.release): no trampoline.
    assert loader.load_opengl_function("glGenTextures") == 98
    gen = GEN(loader.load_opengl_function("glGenQueries"))
    out = (ctypes.c_uint * 1)()
    gen(1, ctypes.addressof(out))
    assert [record.kind for record in ledger.live()] == ["query"]
    loader.release()
    assert inner.released
    assert ledger.live() == []  # its context ended: the query died with it


class FakeTexture:
    """The shape of a moderngl object: ``glo`` in ``_glo``, ``release()`` frees it (in C, for real)."""

    def __init__(self, glo: int) -> None:
        self._glo = glo
        self._size = (64, 32)
        self._components = 4
        self._dtype = "f1"
        self._depth = False
        self._samples = 0
        self.freed = False

    def release(self) -> None:
        self.freed = True


class FakeContext:
    def texture(self, size: tuple[int, int], components: int) -> FakeTexture:
        return FakeTexture(next(names))


class FakeModerngl:
    Context = FakeContext
    Texture = FakeTexture


def test_moderngl_python_layer_records_at_the_factory_and_ends_at_release() -> None:
    from pytest_glleak.ledger.moderngl_hooks import PYTHON_LAYER

    ledger = make_ledger()
    hooks = ModernglHooks(ledger)
    originals = hooks._wrap_factories(FakeModerngl)
    try:
        kept = FakeContext().texture((64, 32), 4)  # this line is the creation site
        released = FakeContext().texture((64, 32), 4)
        released.release()
        released.release()  # a second release ends nothing more
        [record] = ledger.live("texture")
        assert record.name == kept._glo
        assert record.create_site[0]["function"] == (
            "test_moderngl_python_layer_records_at_the_factory_and_ends_at_release"
        )
        assert (record.label, record.nbytes) == ("moderngl.FakeTexture 64x32 RGBA8", 64 * 32 * 4)
        record.label = "atlas"  # what the program names it wins
        assert record.label == "atlas"
        assert released.freed and ledger.deleted_since(0) == {"texture": 1}
        # Their entry points go to moderngl as they are: the Python layer records them.
        assert {"glGenTextures", "glDeleteTextures", "glTexImage2D", "glGenBuffers"} <= PYTHON_LAYER
        assert "glGenQueries" not in PYTHON_LAYER
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)


def test_moderngl_descriptions_and_bytes_from_the_objects_shape() -> None:
    from pytest_glleak.ledger.moderngl_hooks import describe, estimate_bytes

    assert describe("Buffer", 4096, None, None) == "moderngl.Buffer 4096 bytes"
    assert describe("Texture", (8, 8), 1, "f4") == "moderngl.Texture 8x8 R32F"
    assert describe("Texture", (8, 8), 1, "f4", True) == "moderngl.Texture 8x8 DEPTH"
    assert estimate_bytes("Buffer", 4096, None, None) == 4096
    assert estimate_bytes("TextureCube", (8, 8), 4, "f1") == 8 * 8 * 6 * 4
    assert estimate_bytes("Renderbuffer", (8, 8), 4, "f2", False, 4) == 8 * 8 * 4 * 2 * 4
    assert estimate_bytes("Framebuffer", (8, 8), None, None) == 0
