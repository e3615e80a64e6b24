"""The ledger's state machine, marks, contexts, normalisation and report text, without a GL driver.

Objects are fed through the public ``record_created``/``record_deleted`` entry points (the same code the
PyOpenGL hooks call) with a context chosen by the ``current_context`` callable. GL itself is exercised in
``test_ledger_gl.py`` and ``test_intercept.py``.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable

import numpy as np
import pytest

from pytest_glleak.findings import GL_KINDS, LeakedGLObject
from pytest_glleak.ledger import Ledger, LedgerView, registry
from pytest_glleak.ledger import args as ledger_args
from pytest_glleak.report.gl_text import format_gl_leaks
from pytest_glleak.sites import capture, format_site


class CurrentContext:
    """Which native context handle is 'current' for the ledger under test."""

    def __init__(self, handle: int = 0x1000) -> None:
        self.handle = handle

    def __call__(self) -> int:
        return self.handle


def make_ledger(handle: int = 0x1000) -> tuple[Ledger, CurrentContext]:
    current = CurrentContext(handle)
    ledger = Ledger(stack_depth=3, current_context=current)
    ledger.test = "test_x.py::test_y"
    ledger.phase = "call"
    return ledger, current


def test_registry_covers_the_13_kinds() -> None:
    assert registry.KINDS == GL_KINDS
    created_kinds = {entry[0] for entry in registry.CREATE.values()}
    deleted_kinds = {entry[0] for entry in registry.DELETE.values()}
    assert created_kinds == set(GL_KINDS)
    assert set(GL_KINDS) <= deleted_kinds
    assert set(registry.IS_QUERY) == set(GL_KINDS)
    for name in (
        "glGenTexturesEXT",
        "glGenBuffersARB",
        "glGenVertexArraysAPPLE",
        "glGenFramebuffersEXT",
        "glCreateShaderObjectARB",
        "glFenceSyncAPPLE",
        "glCreateShaderProgramv",
    ):
        assert name in registry.CREATE
    assert registry.DELETE["glDeleteLists"] == ("display_list", "range", 1, 0)
    assert registry.SHARED_KINDS == frozenset(
        {"texture", "buffer", "renderbuffer", "sampler", "shader", "program", "sync", "display_list"}
    )
    assert "glGenProgramsARB" not in registry.CREATE  # ARB assembly programs are another namespace


def test_leak_then_delete() -> None:
    ledger, _ = make_ledger()
    mark = ledger.mark()
    ledger.record_created("texture", [1, 2, 3])
    leaks = ledger.leaks_since(mark, confirm=False)
    assert [(r.kind, r.name, r.phase, r.test) for r in leaks] == [
        ("texture", n, "call", "test_x.py::test_y") for n in (1, 2, 3)
    ]
    ledger.record_deleted("texture", [1, 3])
    assert [r.name for r in ledger.leaks_since(mark, confirm=False)] == [2]
    assert ledger.created_since(mark) == {"texture": 3}
    assert ledger.deleted_since(mark) == {"texture": 2}
    assert ledger.touched_since(mark)


def test_unknown_and_zero_deletes_are_ignored() -> None:
    ledger, _ = make_ledger()
    mark = ledger.mark()
    ledger.record_created("buffer", [0, 5])
    ledger.record_deleted("buffer", [0, 7, 99])
    assert [r.name for r in ledger.live()] == [5]
    assert ledger.created_since(mark) == {"buffer": 1}
    assert ledger.deleted_since(mark) == {}


def test_name_reuse_after_delete_is_a_new_generation() -> None:
    ledger, _ = make_ledger()
    first_mark = ledger.mark()
    ledger.record_created("texture", [4])
    first = ledger.live()[0]
    ledger.record_deleted("texture", [4])
    second_mark = ledger.mark()
    ledger.phase = "teardown"
    ledger.record_created("texture", [4])
    second = ledger.live()[0]
    assert second is not first and second.seq > first.seq
    assert [r.phase for r in ledger.leaks_since(second_mark, confirm=False)] == ["teardown"]
    assert len(ledger.leaks_since(first_mark, confirm=False)) == 1


def test_a_name_seen_again_replaces_the_missed_record() -> None:
    ledger, _ = make_ledger()
    ledger.record_created("renderbuffer", [8])
    ledger.record_created("renderbuffer", [8])  # its delete went through a path no hook saw
    assert len(ledger.live("renderbuffer")) == 1


def test_earlier_tests_leaks_are_not_blamed_on_later_tests() -> None:
    ledger, _ = make_ledger()
    ledger.record_created("texture", [1])
    ledger.test = "test_x.py::test_next"
    mark = ledger.mark()
    ledger.record_created("texture", [2])
    leaks = ledger.leaks_since(mark, confirm=False)
    assert [(r.name, r.test) for r in leaks] == [(2, "test_x.py::test_next")]


def test_two_marks_at_the_same_point_keep_their_own_counts() -> None:
    ledger, _ = make_ledger()
    ledger.record_created("texture", [1, 2])
    first = ledger.mark()
    ledger.record_deleted("texture", [1])
    second = ledger.mark()
    assert first != second
    assert ledger.deleted_since(first) == {"texture": 1}
    assert ledger.deleted_since(second) == {}
    assert not ledger.touched_since(second)


def test_owner_other_than_test_is_never_reported() -> None:
    ledger, _ = make_ledger()
    mark = ledger.mark()
    ledger.owner = "fixture:session"
    ledger.record_created("program", [3])
    ledger.owner = "test"
    assert ledger.leaks_since(mark, confirm=False) == []
    assert [r.owner for r in ledger.live()] == ["fixture:session"]


def test_kinds_filter_and_reserved() -> None:
    ledger, _ = make_ledger()
    mark = ledger.mark()
    ledger.record_created("buffer", [1], reserved=True)
    ledger.record_created("texture", [1])
    leaks = ledger.leaks_since(mark, kinds=["buffer"], confirm=False)
    assert [(r.kind, r.reserved_only) for r in leaks] == [("buffer", True)]
    assert ledger.to_findings(leaks)[0]["reserved_only"] is True


def test_shared_kinds_follow_the_share_group_and_containers_the_context() -> None:
    ledger, current = make_ledger(0xA)
    ledger.context_created(0xA, share_group=1)
    ledger.context_created(0xB, share_group=1)
    ledger.context_created(0xC, share_group=2)
    mark = ledger.mark()
    ledger.record_created("texture", [1])
    ledger.record_created("vertex_array", [1])
    current.handle = 0xB
    ledger.record_created("vertex_array", [1])  # same name, another context: another object
    ledger.record_deleted("texture", [1])  # shared: the sharing context deletes A's texture
    assert sorted((r.kind, r.context) for r in ledger.leaks_since(mark, confirm=False)) == [
        ("vertex_array", 0xA),
        ("vertex_array", 0xB),
    ]
    current.handle = 0xC
    ledger.record_created("texture", [1])
    assert sorted((r.kind, r.context) for r in ledger.live("texture")) == [("texture", 2)]
    # Destroying B drops B's VAO only; destroying C, the last of group 2, drops its texture.
    ledger.context_destroyed(0xB)
    ledger.context_destroyed(0xC)
    assert [(r.kind, r.context) for r in ledger.live()] == [("vertex_array", 0xA)]
    assert ledger.contexts() == {0xA: 1}


def test_last_context_of_a_group_releases_shared_objects() -> None:
    ledger, _ = make_ledger(0xA)
    ledger.context_created(0xA, share_group=7)
    ledger.context_created(0xB, share_group=7)
    ledger.record_created("texture", [1, 2])
    ledger.context_destroyed(0xA)
    assert len(ledger.live()) == 2  # B keeps the share group alive
    ledger.context_destroyed(0xB)
    assert ledger.live() == []
    ledger.context_destroyed(0xDEAD)  # unknown: ignored


def test_unknown_context_becomes_its_own_group_and_can_be_regrouped() -> None:
    ledger, _ = make_ledger(0x55)
    ledger.record_created("buffer", [1])
    assert ledger.live()[0].context == 0x55
    ledger.context_created(0x55, share_group=3)
    assert ledger.live()[0].context == 3
    ledger.record_deleted("buffer", [1])
    assert ledger.live() == []


def test_ledger_view_counts_and_assert() -> None:
    ledger, _ = make_ledger()
    ledger.record_created("texture", [1])  # before the test: not counted
    view = LedgerView(ledger, ledger.mark())
    ledger.record_created("texture", [2, 3])
    ledger.record_created("buffer", [1])
    ledger.record_deleted("texture", [2])
    assert view.created() == 3 and view.created("texture") == 2 and view.created("sampler") == 0
    assert view.deleted() == 1 and view.deleted("texture") == 1
    assert [r.name for r in view.live("texture")] == [3]
    with pytest.raises(AssertionError) as info:
        view.assert_no_leaks()
    assert info.value.args[0].startswith("2 GL objects leaked (1 texture, 1 buffer)")
    view.assert_no_leaks(kinds=["sampler"])
    inner = view.mark()
    assert view.leaks_since(inner) == []


def _finding(kind: str, name: int, line: int, **extra: object) -> LeakedGLObject:
    finding: LeakedGLObject = {
        "kind": kind,
        "name": name,
        "label": None,
        "bytes": 0,
        "context": 1,
        "phase": "call",
        "reserved_only": False,
        "create_site": [
            {"file": "render.py", "line": line, "function": "upload"},
            {"file": "test_render.py", "line": 12, "function": "test_draw"},
        ],
    }
    finding.update(extra)  # type: ignore[typeddict-item]
    return finding


def test_format_groups_by_site_and_never_truncates() -> None:
    leaked = [_finding("texture", n, 88, bytes=262144) for n in range(1, 501)]
    leaked.append(_finding("buffer", 9, 90, label="vbo", reserved_only=True))
    text = format_gl_leaks(leaked)
    assert text.splitlines()[0] == (
        "501 GL objects leaked (500 textures, 1 buffer), about 125.0 MiB of GPU memory:"
    )
    assert "  500 textures created at render.py:88 in upload():" in text
    assert "  1 buffer created at render.py:90 in upload():" in text
    for name in range(1, 501):
        assert f"    - texture {name}, 256.0 KiB, in call" in text
    assert "    - buffer 9, label 'vbo', reserved only (generated, never bound), in call" in text
    assert text.count("test_render.py:12 in test_draw()") == 2
    assert format_gl_leaks([]) == "no GL objects leaked"


def test_format_unknown_site_and_sync_name() -> None:
    text = format_gl_leaks([_finding("sync", 0x55AA00, 1, create_site=[])])
    assert "1 sync created at an unknown site:" in text
    assert "sync 0x55aa00" in text


@pytest.mark.parametrize(
    ("value", "count", "expected"),
    [
        (np.array([3, 4, 5], np.uint32), 2, [3, 4]),
        (np.uint32(7), 1, [7]),
        (7, 1, [7]),
        ([1, 2], 2, [1, 2]),
        ((ctypes.c_uint32 * 2)(8, 9), 2, [8, 9]),
        (ctypes.c_uint32(6), 1, [6]),
        (ctypes.byref(ctypes.c_uint32(11)), 1, [11]),
        (ctypes.pointer(ctypes.c_uint32(12)), 1, [12]),
        (np.array([[1, 2], [3, 4]], np.uint32), -1, [1, 2, 3, 4]),
        (np.array([5, 6], np.uint32).tobytes(), -1, [5, 6]),
    ],
)
def test_name_normalisation(value: object, count: int, expected: list[int]) -> None:
    assert ledger_args.as_names(value, count) == expected


def test_pointer_normalisation() -> None:
    assert ledger_args.as_pointer(None) == 0
    assert ledger_args.as_pointer(0x1234) == 0x1234
    assert ledger_args.as_pointer(ctypes.c_void_p(0x4321)) == 0x4321
    assert ledger_args.as_pointer(ctypes.c_void_p()) == 0


def test_storage_bytes() -> None:
    storage = registry.STORAGE
    kind, positions = storage["glTexStorage2D"]
    assert ledger_args.storage_bytes(kind, 0x0DE1, positions, (0x0DE1, 3, 0x8058, 64, 64)) == (
        (64 * 64 + 32 * 32 + 16 * 16) * 4
    )
    # A cube map: six faces per level.
    cube = ledger_args.storage_bytes(kind, 0x8513, positions, (0x8513, 1, 0x8058, 16, 16))
    assert cube == 16 * 16 * 4 * 6
    kind, positions = storage["glTexImage2D"]
    args = (0x0DE1, 0, 0x1908, 10, 10, 0, 0x1907, 0x1406, None)  # GL_RGBA internal, GL_RGB + GL_FLOAT
    assert ledger_args.storage_bytes(kind, 0x0DE1, positions, args) == 10 * 10 * 4
    args = (0x0DE1, 0, 0x1907, 10, 10, 0, 0x1907, 0x1406, None)  # unsized GL_RGB -> 3 bytes per texel
    assert ledger_args.storage_bytes(kind, 0x0DE1, positions, args) == 10 * 10 * 3
    kind, positions = storage["glNamedBufferStorage"]
    assert ledger_args.storage_bytes(kind, 0, positions, (1, 12345, None, 0)) == 12345


def helper_that_creates(ledger: Ledger) -> None:
    ledger.record_created("texture", [1])


def test_creation_site_is_user_code_innermost_first() -> None:
    ledger, _ = make_ledger()
    helper_that_creates(ledger)
    line = sys._getframe().f_lineno - 1
    frames = ledger.live()[0].create_site
    assert frames[0]["function"] == "helper_that_creates"
    assert frames[1] == {
        "file": __file__,
        "line": line,
        "function": "test_creation_site_is_user_code_innermost_first",
    }
    assert len(frames) <= 3
    assert all("pytest_glleak" not in frame["file"] and "_pytest" not in frame["file"] for frame in frames)


class Renderer:
    def upload(self, ledger: Ledger) -> None:
        ledger.record_created("texture", [1])


def test_creation_site_names_methods_as_image_sites_do() -> None:
    ledger, _ = make_ledger()
    Renderer().upload(ledger)
    expected = "Renderer.upload" if sys.version_info >= (3, 11) else "upload"  # co_qualname is 3.11+
    assert ledger.live()[0].create_site[0]["function"] == expected


def test_sites_are_interned() -> None:
    sites = []
    for _ in range(3):
        sites.append(capture(4))
    assert sites[0] is sites[1] is sites[2]
    assert format_site(sites[0])[0]["function"] == "test_sites_are_interned"
    assert capture(0) == ()


def test_format_uses_kind_names_in_plurals() -> None:
    text = format_gl_leaks([_finding("query", 1, 5), _finding("query", 2, 5), _finding("vertex_array", 3, 6)])
    assert text.startswith("3 GL objects leaked (2 queries, 1 vertex_array):")
    assert "  2 queries created at render.py:5 in upload():" in text
    assert "  1 vertex_array created at render.py:6 in upload():" in text


def test_counts_since_a_mark_are_exact_however_many_marks_are_taken() -> None:
    ledger, _ = make_ledger()
    first = ledger.mark()
    for name in range(1, 10_001):
        mark = ledger.mark()
        ledger.record_created("texture", [name])
        ledger.record_deleted("texture", [name])
        assert ledger.created_since(mark) == {"texture": 1}
    assert ledger.created_since(first) == {"texture": 10_000}
    assert ledger.deleted_since(first) == {"texture": 10_000}


def _in_thread(work: object) -> None:
    import threading

    thread = threading.Thread(target=work)  # type: ignore[arg-type]
    thread.start()
    thread.join()


def test_objects_of_a_thread_a_wider_fixture_started_are_never_the_tests() -> None:
    ledger, _ = make_ledger()
    ledger._hook_thread_start()
    try:
        ledger.test = "test_x.py::test_a"
        ledger.owner = "fixture:module"
        started: list[object] = []
        import threading

        gate = threading.Event()

        def render() -> None:
            gate.wait()
            ledger.record_created("texture", [7])

        thread = threading.Thread(target=render)
        thread.start()
        started.append(thread)
        ledger.owner = "test"
        mark = ledger.mark()
        ledger.record_created("texture", [1])
        gate.set()
        thread.join()
        leaks = ledger.leaks_since(mark, confirm=False)
        assert [(r.name, r.owner) for r in leaks] == [(1, "test")]
        foreign = [r for r in ledger.live("texture") if r.name == 7]
        assert [(r.owner, r.phase, r.thread != ledger.test_thread) for r in foreign] == [
            ("fixture:module", "thread", True)
        ]
    finally:
        ledger.uninstall()


def test_objects_of_a_thread_the_test_started_are_the_tests() -> None:
    ledger, _ = make_ledger()
    ledger._hook_thread_start()
    try:
        ledger.test = "test_x.py::test_a"
        mark = ledger.mark()
        _in_thread(lambda: ledger.record_created("buffer", [3]))
        assert [(r.name, r.phase) for r in ledger.leaks_since(mark, confirm=False)] == [(3, "thread")]
    finally:
        ledger.uninstall()


def test_objects_of_a_thread_of_unknown_origin_belong_to_the_session() -> None:
    ledger, _ = make_ledger()
    mark = ledger.mark()
    _in_thread(lambda: ledger.record_created("buffer", [3]))
    assert ledger.leaks_since(mark, confirm=False) == []
    assert [r.owner for r in ledger.live("buffer")] == ["session"]


def test_unconfirmed_records_are_never_called_never_bound() -> None:
    ledger, _ = make_ledger()
    mark = ledger.mark()
    ledger.record_created("texture", [1], reserved=True)
    (record,) = ledger.leaks_since(mark, confirm=False)
    record.confirmed = False
    (finding,) = ledger.to_findings([record])
    assert finding["reserved_only"] is False
    assert finding.get("unconfirmed") is True
    assert "unconfirmed" in format_gl_leaks([finding])
    assert "never bound" not in format_gl_leaks([finding])


def test_generated_handlers_record_the_shapes_pyopengl_passes_across_context_changes() -> None:
    """The glGen*/glDelete*/storage handlers (the hooks' hot path, inlined) record into the very table
    the ledger reads, also after a context was destroyed or regrouped (edited in place, not replaced)."""
    from pytest_glleak.ledger.handlers import build_handlers

    ledger, current = make_ledger(0xA)
    handlers = build_handlers(ledger)

    def hooked(name: str) -> Callable[..., None]:
        # As the interceptor's hooked call does: the handler is called one frame below user code.
        return lambda *args: handlers[name](args, None)

    gen, delete, storage = hooked("glGenTextures"), hooked("glDeleteTextures"), hooked("glTextureStorage2D")
    mark = ledger.mark()
    gen(2, np.array([4, 5], np.uint32))
    gen(1, [6])  # a shape other than a NumPy array goes through the general normaliser
    delete(1, (ctypes.c_uint * 1)(4))
    storage(5, 1, 0x8058, 8, 8)
    assert [(r.name, r.reserved_only) for r in ledger.leaks_since(mark)] == [(5, False), (6, True)]
    assert ledger.live()[0].nbytes == 8 * 8 * 4
    assert ledger.created_since(mark) == {"texture": 3} and ledger.deleted_since(mark) == {"texture": 1}
    assert ledger.leaks_since(mark)[0].site  # a creation site was captured

    current.handle = 0xB
    gen(1, np.array([7], np.uint32))
    ledger.context_destroyed(0xA)  # A's share group dies with it: 5 and 6 go
    gen(1, np.array([8], np.uint32))
    assert sorted(r.name for r in ledger.leaks_since(mark)) == [7, 8]
    ledger.context_created(0xB, share_group=9)  # regrouped: the records move to group 9
    delete(1, (ctypes.c_uint * 1)(7))
    gen(1, np.array([9], np.uint32))
    assert [(r.name, r.context) for r in ledger.leaks_since(mark)] == [(8, 9), (9, 9)]
