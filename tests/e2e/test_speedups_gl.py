"""The C accelerator and its pure-Python twins make the same records, against a real EGL context.

The same script runs twice in subprocesses: once with the accelerator (where it is built) and once with
``PYTEST_GLLEAK_PURE_PYTHON=1``. Each reports the records of moderngl objects (kept, released, made while
the ledger is suspended) and of PyOpenGL objects; the tests compare the two runs fact by fact.

A second script checks the ledger's current-context function against ``eglGetCurrentContext``. With the
accelerator on Mesa it asks the driver only when Mesa's own per-thread context pointer changed, or a
context was created or destroyed where the ledger saw it: the script switches contexts behind the ledger's
back (the plugin's own bare ctypes EGL calls, which no hook sees), in two threads, across contexts the
ledger sees made and destroyed, and compares every answer with the driver's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCRIPT = textwrap.dedent(
    r"""
    import inspect, json, os, sys
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    import moderngl
    import OpenGL.GL as gl
    from pytest_glleak import sites, speedups
    from pytest_glleak.ledger import Ledger

    ledger = Ledger(stack_depth=3)
    ledger.install()
    ledger.test, ledger.phase, ledger.owner = "test_mod.py::test_x", "call", "test"
    try:
        ctx = moderngl.create_standalone_context(backend="egl")
    except Exception as exc:
        print(json.dumps({"unavailable": str(exc)}))
        sys.exit(0)
    facts = {
        "native": speedups.native is not None,
        "factory": type(moderngl.Context.__dict__["texture"]).__name__,
        "capture": type(sites.capture).__name__,
    }

    def here():
        return inspect.currentframe().f_back.f_lineno

    def described(record):
        return {
            "kind": record.kind, "name": record.name, "label": record.label, "bytes": record.nbytes,
            "test": record.test, "phase": record.phase, "owner": record.owner, "state": record.state,
            "type": type(record).__name__, "same_context": record.context in (ledger._contexts[ctx_handle].group, ctx_handle),
            "site": [(frame["line"], frame["function"]) for frame in record.create_site],
        }

    def make(helper_depth):
        if helper_depth:
            return make(helper_depth - 1)
        lines = {}
        texture = ctx.texture((64, 32), 4); lines["texture"] = here()
        buffer = ctx.buffer(reserve=4096); lines["buffer"] = here()
        depth = ctx.depth_texture((16, 16)); lines["depth"] = here()
        renderbuffer = ctx.renderbuffer((8, 8), samples=0); lines["renderbuffer"] = here()
        framebuffer = ctx.framebuffer(color_attachments=[renderbuffer]); lines["framebuffer"] = here()
        return lines, [texture, buffer, depth, renderbuffer, framebuffer]

    ctx_handle = int(ledger._current() or 0)
    facts["lines"], kept = make(2)
    attribute = ledger._moderngl.record_attribute
    records = [getattr(obj, attribute, None) for obj in kept]
    live = ledger.live()
    facts["kept"] = [described(record) for record in records]
    facts["attached"] = [any(record is other for other in live) for record in records]

    released = ctx.texture((8, 8), 1, dtype="f4")
    released.release()
    released.release()  # a second release ends nothing more
    facts["after_release"] = sorted(record.name for record in ledger.live("texture"))
    facts["deleted"] = ledger.deleted_since(0)

    with ledger.suspended():
        unseen = ctx.texture((4, 4), 4)
    facts["suspended_recorded"] = any(record.name == unseen.glo for record in ledger.live())
    unseen.release()

    for obj in kept:
        obj.release()
    facts["live_at_end"] = len([r for r in ledger.live() if type(r).__name__ == "ModernglObject"])
    facts["errors"] = [repr(error) for error in ledger._moderngl.errors]

    # PyOpenGL's path uses the same current-context function and site capture.
    pyopengl_texture = gl.glGenTextures(1); facts["pyopengl_line"] = here()
    [record] = [r for r in ledger.live("texture") if r.name == int(pyopengl_texture)]
    facts["pyopengl_site"] = [(frame["line"], frame["function"]) for frame in record.create_site]
    gl.glDeleteTextures([pyopengl_texture])
    ledger.uninstall()
    ctx.release()
    print(json.dumps(facts))
    """
)


def _run(tmp_path: Path, pure: bool, script_text: str = SCRIPT) -> dict[str, Any]:
    script = tmp_path / ("pure.py" if pure else "native.py")
    script.write_text(script_text, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_GLLEAK_PURE_PYTHON"}
    if pure:
        env["PYTEST_GLLEAK_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if "unavailable" in facts:
        pytest.skip(f"no EGL context: {facts['unavailable']}")
    return facts


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    pytest.importorskip("moderngl")
    tmp_path = tmp_path_factory.mktemp("speedups")
    return {"native": _run(tmp_path, pure=False), "pure": _run(tmp_path, pure=True)}


def test_the_pure_python_run_uses_no_c(runs: dict[str, dict[str, Any]]) -> None:
    pure = runs["pure"]
    assert (pure["native"], pure["factory"], pure["capture"]) == (False, "function", "function")


def test_the_accelerated_run_uses_c_where_it_is_built(runs: dict[str, dict[str, Any]]) -> None:
    native = runs["native"]
    if not native["native"]:
        pytest.skip("pytest_glleak._speedups is not built here")
    assert (native["factory"], native["capture"]) == ("Factory", "builtin_function_or_method")


@pytest.mark.parametrize("run", ["native", "pure"])
def test_each_moderngl_object_kept_is_recorded_with_kind_label_bytes_and_the_users_lines(
    runs: dict[str, dict[str, Any]], run: str
) -> None:
    facts = runs[run]
    lines = facts["lines"]
    kept = facts["kept"]
    expected = [
        ("texture", "moderngl.Texture 64x32 RGBA8", 64 * 32 * 4, lines["texture"]),
        ("buffer", "moderngl.Buffer 4096 bytes", 4096, lines["buffer"]),
        ("texture", "moderngl.Texture 16x16 DEPTH", 16 * 16 * 4, lines["depth"]),
        ("renderbuffer", "moderngl.Renderbuffer 8x8 RGBA8", 8 * 8 * 4, lines["renderbuffer"]),
        ("framebuffer", "moderngl.Framebuffer 8x8", 0, lines["framebuffer"]),
    ]
    assert [(r["kind"], r["label"], r["bytes"], r["site"][0][0]) for r in kept] == expected
    for record in kept:
        assert (record["test"], record["phase"], record["owner"]) == ("test_mod.py::test_x", "call", "test")
        assert (record["state"], record["type"], record["same_context"]) == (1, "ModernglObject", True)
        # stack_depth=3: make() three times (the recursion), the script's frame beyond the depth
        assert [function for _, function in record["site"]] == ["make", "make", "make"]
    assert facts["attached"] == [True] * len(kept)


@pytest.mark.parametrize("run", ["native", "pure"])
def test_release_ends_the_record_once_and_a_suspended_ledger_records_nothing(
    runs: dict[str, dict[str, Any]], run: str
) -> None:
    facts = runs[run]
    kept_textures = sorted(r["name"] for r in facts["kept"] if r["kind"] == "texture")
    assert facts["after_release"] == kept_textures
    assert facts["deleted"] == {"texture": 1}
    assert facts["suspended_recorded"] is False
    assert facts["live_at_end"] == 0
    assert facts["errors"] == []


def test_both_runs_report_the_same_facts(runs: dict[str, dict[str, Any]]) -> None:
    """Everything but which implementation ran is equal (names come from the same driver sequence)."""
    native, pure = (dict(runs[key]) for key in ("native", "pure"))
    for facts in (native, pure):
        for key in ("native", "factory", "capture"):
            facts.pop(key)
    assert native == pure


def test_pyopengl_records_get_the_same_site_through_the_c_capture(runs: dict[str, dict[str, Any]]) -> None:
    for facts in runs.values():
        assert facts["pyopengl_site"][0] == [facts["pyopengl_line"], "<module>"]


CURRENT_CONTEXT_SCRIPT = textwrap.dedent(
    r"""
    import json, os, random, sys, threading
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    from pytest_glleak.gl import ContextUnavailable, create_context
    from pytest_glleak.ledger import Ledger, gl_functions

    try:
        contexts = [create_context("egl", size=(16, 16)) for _ in range(3)]
    except ContextUnavailable as exc:
        print(json.dumps({"unavailable": str(exc)}))
        sys.exit(0)
    ledger = Ledger()
    ledger.install()
    current = ledger._current
    egl = contexts[0]._egl
    wrong, checks = [], [0]

    def check(step):
        truth = egl.eglGetCurrentContext() or 0
        for _ in range(2):  # the second answer comes from what the first remembered
            checks[0] += 1
            answer = current() or 0
            if answer != truth:
                wrong.append([step, answer, truth])

    rng = random.Random(13)
    for step in range(600):  # switches no hook sees, and no context at all
        choice = rng.randrange(4)
        if choice == 3:
            contexts[0].release_current()
        else:
            contexts[choice].make_current()
        check(f"switch {step} to {choice}")

    # A context the ledger sees destroyed, and one it sees made (the same driver memory, often).
    contexts[2].make_current()
    ledger.attach_context(contexts[2])
    check("attached")
    ledger.detach_context(contexts[2])
    contexts[2].destroy()
    check("destroyed")
    for round in range(5):
        fresh = create_context("egl", size=(16, 16))
        ledger.attach_context(fresh)
        check(f"made {round}")
        contexts[0].make_current()
        check(f"back {round}")
        fresh.make_current()
        check(f"fresh again {round}")
        ledger.detach_context(fresh)
        fresh.destroy()
        check(f"fresh destroyed {round}")

    contexts[0].make_current()
    check("main")

    def other_thread():
        check("thread, none yet")
        contexts[1].make_current()
        check("thread")
        contexts[1].release_current()
        check("thread, released")

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    check("main, after the thread")
    print(json.dumps({
        "type": type(current).__name__,
        "driver_checked": bool(getattr(current, "driver_checked", False)),
        "mesa": gl_functions.driver_context_address() is not None,
        "wrong": wrong,
        "checks": checks[0],
    }))
    """
)


@pytest.mark.parametrize("pure", [False, True], ids=["accelerated", "pure-python"])
def test_every_answer_is_the_drivers_through_unseen_switches_threads_and_new_contexts(
    tmp_path: Path, pure: bool
) -> None:
    facts = _run(tmp_path, pure, CURRENT_CONTEXT_SCRIPT)
    assert facts["wrong"] == []
    assert facts["checks"] > 1200
    if pure:
        assert not facts["driver_checked"]


def test_on_mesa_the_accelerator_reads_the_drivers_context_pointer(tmp_path: Path) -> None:
    from pytest_glleak import speedups

    if speedups.native is None:
        pytest.skip(f"the C accelerator is not used here: {speedups.why_pure}")
    facts = _run(tmp_path, False, CURRENT_CONTEXT_SCRIPT)
    assert facts["type"] == "CurrentFunction"
    # Where Mesa's libglapi is loaded, the fast path is on (and the test above checked its answers).
    assert facts["driver_checked"] == facts["mesa"]
