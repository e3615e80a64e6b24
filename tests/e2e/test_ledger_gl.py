"""The ledger against a real EGL context: every kind, sharing, deferred deletion, contexts, bytes, labels.

The GL work runs in one subprocess per module (PyOpenGL's platform is fixed at import, and the plugin
of the outer pytest run must not see these hooks); each test asserts on the facts it reported.
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

KINDS = (
    "texture",
    "buffer",
    "renderbuffer",
    "sampler",
    "framebuffer",
    "vertex_array",
    "transform_feedback",
    "program_pipeline",
    "query",
    "shader",
    "program",
    "sync",
    "display_list",
)

SCRIPT = textwrap.dedent(
    r"""
    import inspect, json, os, sys, ctypes
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    from pytest_glleak.gl import create_context, ContextUnavailable
    try:
        ctx = create_context("egl", profile="compat")
    except ContextUnavailable as exc:
        print(json.dumps({"unavailable": str(exc)}))
        sys.exit(0)
    import numpy as np
    import OpenGL.GL as gl
    from pytest_glleak.ledger import Ledger, LedgerView
    from pytest_glleak.report.gl_text import format_gl_leaks

    ledger = Ledger(stack_depth=4)
    ledger.install()
    ledger.context_created(ctx.native_handle, ctx.share_group, ctx.make_current)
    ledger.test = "test_mod.py::test_x"
    ledger.phase = "call"
    facts = {"version": ctx.version}

    def here():
        return inspect.currentframe().f_back.f_lineno

    VS = "#version 330\nvoid main() { gl_Position = vec4(0.0); }"
    FS = "#version 330\nout vec4 c;\nvoid main() { c = vec4(1.0); }"

    def compile_shader(kind, source):
        shader = gl.glCreateShader(kind)
        gl.glShaderSource(shader, source)
        gl.glCompileShader(shader)
        return shader

    def make_texture():
        name = gl.glGenTextures(1); line = here()
        gl.glBindTexture(gl.GL_TEXTURE_2D, name)
        gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
        return [int(name)], line

    def make_buffer():
        names = np.zeros(2, np.uint32)
        gl.glCreateBuffers(2, names); line = here()
        return [int(n) for n in names], line

    def make_renderbuffer():
        names = gl.glGenRenderbuffers(2); line = here()
        for name in names:
            gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, int(name))
        gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, 0)
        return [int(n) for n in names], line

    def make_sampler():
        name = gl.glGenSamplers(1); line = here()
        return [int(name)], line

    def make_framebuffer():
        name = gl.glGenFramebuffers(1); line = here()
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, name)
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, ctx.framebuffer)
        return [int(name)], line

    def make_vertex_array():
        holder = gl.GLuint()
        gl.glGenVertexArrays(1, holder); line = here()
        gl.glBindVertexArray(holder.value)
        gl.glBindVertexArray(0)
        return [holder.value], line

    def make_transform_feedback():
        names = np.zeros(1, np.uint32)
        gl.glCreateTransformFeedbacks(1, names); line = here()
        return [int(names[0])], line

    def make_program_pipeline():
        name = gl.glGenProgramPipelines(1); line = here()
        gl.glBindProgramPipeline(name)
        gl.glBindProgramPipeline(0)
        return [int(name)], line

    def make_query():
        names = gl.glGenQueries(1); line = here()
        gl.glBeginQuery(gl.GL_SAMPLES_PASSED, int(names[0]))
        gl.glEndQuery(gl.GL_SAMPLES_PASSED)
        return [int(names[0])], line

    def make_shader():
        name = gl.glCreateShader(gl.GL_VERTEX_SHADER); line = here()
        return [int(name)], line

    def make_program():
        name = gl.glCreateProgram(); line = here()
        return [int(name)], line

    SYNCS = {}

    def make_sync():
        sync = gl.glFenceSync(gl.GL_SYNC_GPU_COMMANDS_COMPLETE, 0); line = here()
        address = ctypes.cast(sync, ctypes.c_void_p).value
        SYNCS[address] = sync
        return [address], line

    def make_display_list():
        base = gl.glGenLists(3); line = here()
        return [base, base + 1, base + 2], line

    DELETE = {
        "texture": lambda names: gl.glDeleteTextures(names),
        "buffer": lambda names: gl.glDeleteBuffers(len(names), np.array(names, np.uint32)),
        "renderbuffer": lambda names: gl.glDeleteRenderbuffers(len(names), names),
        "sampler": lambda names: gl.glDeleteSamplers(1, gl.GLuint(names[0])),
        "framebuffer": lambda names: gl.glDeleteFramebuffers(1, [names[0]]),
        "vertex_array": lambda names: gl.glDeleteVertexArrays(1, names),
        "transform_feedback": lambda names: gl.glDeleteTransformFeedbacks(1, np.array(names, np.uint32)),
        "program_pipeline": lambda names: gl.glDeleteProgramPipelines(1, names),
        "query": lambda names: gl.glDeleteQueries(1, names),
        "shader": lambda names: gl.glDeleteShader(names[0]),
        "program": lambda names: gl.glDeleteProgram(np.uint32(names[0])),
        "sync": lambda names: gl.glDeleteSync(SYNCS.pop(names[0])),
        "display_list": lambda names: gl.glDeleteLists(names[0], 3),
    }

    per_kind = {}
    for kind in DELETE:
        mark = ledger.mark()
        names, line = globals()["make_" + kind]()
        leaked = ledger.to_findings(ledger.leaks_since(mark))
        entry = {
            "names": names,
            "line": line,
            "created": ledger.created_since(mark),
            "leaks": [[f["kind"], f["name"], f["create_site"][0]["line"], f["reserved_only"], f["phase"],
                       f["create_site"][0]["function"]] for f in leaked],
            "text": format_gl_leaks(leaked),
            "script": __file__,
        }
        DELETE[kind](names)
        entry["deleted"] = ledger.deleted_since(mark)
        entry["leaks_after_delete"] = len(ledger.leaks_since(mark))
        per_kind[kind] = entry
    facts["per_kind"] = per_kind
    facts["gl_error"] = gl.glGetError()

    # Reserved-never-bound names are still reported, marked as such; binding makes them objects.
    mark = ledger.mark()
    buffer = int(gl.glGenBuffers(1))
    facts["reserved"] = [r.reserved_only for r in ledger.leaks_since(mark)]
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buffer)
    facts["reserved_after_bind"] = [r.reserved_only for r in ledger.leaks_since(mark)]
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, 0)
    gl.glDeleteBuffers(1, [buffer])

    # Deleting unknown names and 0 is ignored.
    mark = ledger.mark()
    gl.glDeleteTextures([999999]); gl.glDeleteTextures([0]); gl.glDeleteProgram(0); gl.glDeleteLists(7777, 2)
    facts["unknown_delete"] = {"deleted": ledger.deleted_since(mark), "errors": len(ledger.hook_errors)}

    # Deferred deletion: a shader deleted while attached, a program deleted while in use.
    mark = ledger.mark()
    vs = compile_shader(gl.GL_VERTEX_SHADER, VS)
    fs = compile_shader(gl.GL_FRAGMENT_SHADER, FS)
    program = gl.glCreateProgram()
    gl.glAttachShader(program, vs); gl.glAttachShader(program, fs)
    gl.glLinkProgram(program)
    gl.glDeleteShader(vs); gl.glDeleteShader(fs)
    facts["deferred_shaders"] = sorted(r.kind for r in ledger.leaks_since(mark))
    facts["deferred_pending"] = sorted(r.kind for r in ledger._live.values() if r.pending)
    gl.glUseProgram(program)
    gl.glDeleteProgram(program)
    facts["deferred_program_in_use"] = [r.kind for r in ledger.leaks_since(mark)]
    facts["deferred_glis_program"] = bool(gl.glIsProgram(program))
    gl.glUseProgram(0)
    facts["deferred_after_release"] = [r.kind for r in ledger.leaks_since(mark)]
    facts["deferred_counts"] = ledger.deleted_since(mark)

    # Bytes from storage calls and labels.
    mark = ledger.mark()
    tex = gl.glGenTextures(1)
    gl.glActiveTexture(gl.GL_TEXTURE3)
    gl.glBindTexture(gl.GL_TEXTURE_2D, tex)
    gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, 256, 256, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
    gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, 256, 256, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
    gl.glTexImage2D(gl.GL_TEXTURE_2D, 1, gl.GL_RGBA8, 128, 128, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
    gl.glActiveTexture(gl.GL_TEXTURE0)
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    gl.glObjectLabel(gl.GL_TEXTURE, int(tex), -1, b"atlas")
    stored = np.zeros(1, np.uint32)
    gl.glCreateTextures(gl.GL_TEXTURE_2D, 1, stored)
    gl.glTextureStorage2D(int(stored[0]), 3, gl.GL_RGBA8, 64, 64)
    buf = gl.glGenBuffers(1)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, buf)
    gl.glBufferData(gl.GL_ARRAY_BUFFER, 4096, None, gl.GL_STATIC_DRAW)
    gl.glBindBuffer(gl.GL_ARRAY_BUFFER, 0)
    rb = gl.glGenRenderbuffers(1)
    gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, rb)
    gl.glRenderbufferStorageMultisample(gl.GL_RENDERBUFFER, 4, gl.GL_RGBA8, 32, 32)
    gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, 0)
    sync = gl.glFenceSync(gl.GL_SYNC_GPU_COMMANDS_COMPLETE, 0)
    gl.glObjectPtrLabel(sync, -1, b"frame fence")
    leaked = ledger.leaks_since(mark)
    facts["bytes"] = {f"{r.kind}:{r.label}": r.nbytes for r in leaked}
    findings = ledger.to_findings(leaked)
    facts["bytes_text"] = format_gl_leaks(findings)
    facts["json_roundtrip"] = json.loads(json.dumps(findings)) == findings

    # Cleanup of leaked objects: deleted through GL, unrecorded, gone from the ledger.
    before = ledger.deleted_since(mark)
    facts["cleanup_count"] = ledger.delete(leaked)
    facts["cleanup_glis_texture"] = bool(gl.glIsTexture(tex))
    facts["cleanup_left"] = len(ledger.leaks_since(mark))
    facts["cleanup_not_counted"] = ledger.deleted_since(mark) == before

    # The driver cross-check drops objects deleted behind PyOpenGL's back (plain ctypes here).
    mark = ledger.mark()
    created = np.zeros(1, np.uint32)
    gl.glCreateRenderbuffers(1, created)
    rb = int(created[0])
    ctx.gl.glDeleteRenderbuffers(1, ctypes.byref(ctypes.c_uint32(rb)))
    facts["confirm_dropped"] = len(ledger.leaks_since(mark))
    facts["confirm_unchecked"] = len(ledger.leaks_since(mark, confirm=False))

    # Driver sweep: an object made through ctypes (as moderngl or a C extension would) is found.
    sweep = ledger.driver_sweep(["renderbuffer"])
    outside = ctypes.c_uint32()
    ctx.gl.glGenRenderbuffers(1, ctypes.byref(outside))
    ctx.gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, outside.value)
    ctx.gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, 0)
    found = ledger.outside_since(sweep, ["renderbuffer"])
    facts["sweep"] = [[r.kind, r.name, r.label] for r in found]
    facts["sweep_expected"] = outside.value
    ctx.gl.glDeleteRenderbuffers(1, ctypes.byref(outside))

    # The driver sizes what the sweep finds (texture level 0, buffer store, renderbuffer storage); the
    # bindings changed to ask are put back.
    raw = ctypes.CDLL("libOpenGL.so.0")  # every GL function, bare (ctx.gl has the plugin's few)
    held_tex, held_buf, held_rb = gl.glGenTextures(1), gl.glGenBuffers(1), gl.glGenRenderbuffers(1)
    gl.glBindTexture(gl.GL_TEXTURE_2D, held_tex)
    gl.glBindBuffer(gl.GL_COPY_READ_BUFFER, held_buf)
    gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, held_rb)
    sweep = ledger.driver_sweep(["texture", "buffer", "renderbuffer"])
    names = [ctypes.c_uint32() for _ in range(3)]
    raw.glGenTextures(1, ctypes.byref(names[0]))
    raw.glBindTexture(gl.GL_TEXTURE_CUBE_MAP, names[0].value)
    for face in range(6):
        raw.glTexImage2D(
            gl.GL_TEXTURE_CUBE_MAP_POSITIVE_X + face, 0, gl.GL_RGBA8, 8, 8, 0, gl.GL_RGBA,
            gl.GL_UNSIGNED_BYTE, None,
        )
    raw.glBindTexture(gl.GL_TEXTURE_CUBE_MAP, 0)
    raw.glGenBuffers(1, ctypes.byref(names[1]))
    raw.glBindBuffer(gl.GL_ARRAY_BUFFER, names[1].value)
    raw.glBufferData(gl.GL_ARRAY_BUFFER, ctypes.c_ssize_t(1000), None, gl.GL_STATIC_DRAW)
    raw.glBindBuffer(gl.GL_ARRAY_BUFFER, 0)
    raw.glGenRenderbuffers(1, ctypes.byref(names[2]))
    raw.glBindRenderbuffer(gl.GL_RENDERBUFFER, names[2].value)
    raw.glRenderbufferStorage(gl.GL_RENDERBUFFER, gl.GL_RGBA8, 16, 8)
    gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, held_rb)
    found = ledger.outside_since(sweep, ["texture", "buffer", "renderbuffer"])
    facts["sweep_bytes"] = sorted([r.kind, r.nbytes] for r in found)
    facts["sweep_bindings_kept"] = [
        int(gl.glGetIntegerv(gl.GL_TEXTURE_BINDING_2D)) == int(held_tex),
        int(gl.glGetIntegerv(gl.GL_COPY_READ_BUFFER_BINDING)) == int(held_buf),
        int(gl.glGetIntegerv(gl.GL_RENDERBUFFER_BINDING)) == int(held_rb),
    ]
    facts["sweep_gl_error"] = int(gl.glGetError())
    raw.glDeleteTextures(1, ctypes.byref(names[0]))
    raw.glDeleteBuffers(1, ctypes.byref(names[1]))
    raw.glDeleteRenderbuffers(1, ctypes.byref(names[2]))
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    gl.glBindBuffer(gl.GL_COPY_READ_BUFFER, 0)
    gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, 0)
    gl.glDeleteTextures([held_tex])
    gl.glDeleteBuffers(1, [held_buf])
    gl.glDeleteRenderbuffers(1, [held_rb])

    # Owner: objects made while a wider-scoped fixture is set up are never blamed on a test.
    mark = ledger.mark()
    ledger.owner = "fixture:module"
    kept = gl.glGenTextures(1)
    ledger.owner = "test"
    facts["fixture_owned"] = len(ledger.leaks_since(mark))
    facts["fixture_live"] = any(r.name == int(kept) for r in ledger.live("texture"))
    gl.glDeleteTextures([kept])

    # Contexts: shared kinds per share group, per-context kinds per context, destruction drops objects.
    mark = ledger.mark()
    shared = create_context("egl", profile="compat", share_with=ctx)
    ledger.context_created(shared.native_handle, shared.share_group, shared.make_current)
    ctx.make_current()
    tex_a = int(gl.glGenTextures(1))
    gl.glBindTexture(gl.GL_TEXTURE_2D, tex_a); gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    vao_a = int(gl.glGenVertexArrays(1)); gl.glBindVertexArray(vao_a); gl.glBindVertexArray(0)
    shared.make_current()
    vaos_b = [int(n) for n in np.atleast_1d(gl.glGenVertexArrays(vao_a))]  # names 1..vao_a: a collision
    for vao in vaos_b:
        gl.glBindVertexArray(vao)
    gl.glBindVertexArray(0)
    gl.glDeleteTextures([tex_a])  # deleting in the sharing context releases the shared texture
    facts["shared_tex_after_delete"] = [r.kind for r in ledger.leaks_since(mark) if r.kind == "texture"]
    facts["vao_names"] = [vao_a, vaos_b]
    facts["vao_records"] = sorted(
        [r.name, r.context == ctx.native_handle] for r in ledger.leaks_since(mark)
        if r.kind == "vertex_array" and r.name == vao_a)
    # Verdict from a context of another share group: the ledger switches contexts and restores.
    unshared = create_context("egl", profile="compat")
    ledger.context_created(unshared.native_handle, unshared.share_group, unshared.make_current)
    tex_c = int(gl.glGenTextures(1))
    gl.glBindTexture(gl.GL_TEXTURE_2D, tex_c); gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    facts["unshared_groups"] = sorted(r.context for r in ledger.leaks_since(mark) if r.kind == "texture") == [
        unshared.share_group]
    facts["confirm_restores_current"] = unshared.is_current()
    shared_tex = int(gl.glGenTextures(1))
    ctx.make_current()
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    # Destroying `shared`: its VAO dies with it; `ctx` and its VAO live on.
    ledger.context_destroyed(shared.native_handle); shared.destroy()
    ctx.make_current()
    facts["after_shared_destroyed"] = sorted([r.kind, r.name] for r in ledger.leaks_since(mark))
    # Destroying `unshared`, the last context of its group, drops its textures.
    ledger.context_destroyed(unshared.native_handle); unshared.destroy()
    ctx.make_current()
    facts["after_unshared_destroyed"] = sorted([r.kind, r.name] for r in ledger.leaks_since(mark))
    gl.glDeleteVertexArrays(1, [vao_a])

    # Contexts made through PyOpenGL's own EGL binding are tracked by the eglCreate/DestroyContext hooks.
    try:
        from OpenGL import EGL
        display = EGL.eglGetCurrentDisplay()
        config_id = ctypes.c_int32()
        EGL.eglQueryContext(display, EGL.eglGetCurrentContext(), EGL.EGL_CONFIG_ID, ctypes.byref(config_id))
        configs = (EGL.EGLConfig * 1)()
        count = ctypes.c_int32()
        EGL.eglChooseConfig(display, (ctypes.c_int32 * 3)(EGL.EGL_CONFIG_ID, config_id.value, EGL.EGL_NONE),
                            configs, 1, ctypes.byref(count))
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        own = EGL.eglCreateContext(display, configs[0], EGL.EGL_NO_CONTEXT, None)
        handle = ctypes.cast(own, ctypes.c_void_p).value
        facts["egl_hook_registered"] = handle in ledger.contexts()
        mark = ledger.mark()
        EGL.eglMakeCurrent(display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, own)
        made = gl.glGenTextures(1)
        ctx.make_current()
        facts["egl_leak_before_destroy"] = len(ledger.leaks_since(mark, confirm=False))
        EGL.eglDestroyContext(display, own)
        facts["egl_hook_unregistered"] = handle not in ledger.contexts()
        facts["egl_leak_after_destroy"] = len(ledger.leaks_since(mark, confirm=False))
    except Exception as exc:
        facts["egl_hook_error"] = repr(exc)

    # The per-test view of the gl_ledger fixture.
    view = LedgerView(ledger, ledger.mark())
    textures = gl.glGenTextures(3)
    gl.glDeleteTextures([textures[0]])
    facts["view"] = {"created": view.created(), "created_tex": view.created("texture"),
                     "deleted": view.deleted("texture"), "live": len(view.live("texture")),
                     "buffers": view.created("buffer")}
    try:
        view.assert_no_leaks()
        facts["view_assert"] = None
    except AssertionError as exc:
        facts["view_assert"] = str(exc)
    inner = view.mark()
    facts["view_leaks_since_inner"] = len(view.leaks_since(inner))
    gl.glDeleteTextures(textures[1:])
    view.assert_no_leaks()

    facts["hook_errors"] = [repr(e) for e in ledger.hook_errors]
    ledger.uninstall()
    print(json.dumps(facts))
    """
)


@pytest.fixture(scope="module")
def facts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = tmp_path_factory.mktemp("ledger_gl") / "scenario.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYOPENGL_"))}
    env.pop("DISPLAY", None)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    reported: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if "unavailable" in reported:
        pytest.skip(f"no EGL context: {reported['unavailable']}")
    reported["_script"] = SCRIPT
    return reported


def _script_line(marker: str) -> str:
    return marker


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_leaked_then_deleted(facts: dict[str, Any], kind: str) -> None:
    entry = facts["per_kind"][kind]
    names = entry["names"]
    assert entry["created"] == {kind: len(names)}
    assert [leak[0] for leak in entry["leaks"]] == [kind] * len(names)
    assert sorted(leak[1] for leak in entry["leaks"]) == sorted(names)
    assert {leak[2] for leak in entry["leaks"]} == {entry["line"]}, "creation site line"
    assert {leak[5] for leak in entry["leaks"]} == {f"make_{kind}"}
    assert {leak[4] for leak in entry["leaks"]} == {"call"}
    assert entry["deleted"] == {kind: len(names)}
    assert entry["leaks_after_delete"] == 0
    assert f"created at {entry['script']}:{entry['line']} in make_{kind}()" in entry["text"]


def test_reserved_names_become_objects_on_bind(facts: dict[str, Any]) -> None:
    assert facts["per_kind"]["renderbuffer"]["leaks"][0][3] is False  # bound before the verdict
    assert facts["reserved"] == [True]
    assert facts["reserved_after_bind"] == [False]


def test_glcreate_objects_are_never_reserved(facts: dict[str, Any]) -> None:
    assert [leak[3] for leak in facts["per_kind"]["buffer"]["leaks"]] == [False, False]


def test_unknown_and_zero_deletes_are_ignored(facts: dict[str, Any]) -> None:
    assert facts["unknown_delete"] == {"deleted": {}, "errors": 0}


def test_shader_deleted_while_attached_is_not_a_leak(facts: dict[str, Any]) -> None:
    assert facts["deferred_shaders"] == ["program"]
    assert facts["deferred_pending"] == ["shader", "shader"]


def test_program_deleted_while_in_use_is_not_a_leak(facts: dict[str, Any]) -> None:
    assert facts["deferred_glis_program"] is True  # GL keeps it alive...
    assert facts["deferred_program_in_use"] == []  # ...but the test released it
    assert facts["deferred_after_release"] == []
    assert facts["deferred_counts"] == {"shader": 2, "program": 1}


def test_storage_calls_estimate_bytes(facts: dict[str, Any]) -> None:
    assert facts["bytes"] == {
        "texture:atlas": 256 * 256 * 4 + 128 * 128 * 4,  # level 0 re-specified, counted once
        "texture:None": (64 * 64 + 32 * 32 + 16 * 16) * 4,
        "buffer:None": 4096,
        "renderbuffer:None": 32 * 32 * 4 * 4,
        "sync:frame fence": 0,
    }
    assert "label 'atlas', 320.0 KiB" in facts["bytes_text"]
    assert facts["json_roundtrip"] is True


def test_cleanup_deletes_leaked_objects_unrecorded(facts: dict[str, Any]) -> None:
    assert facts["cleanup_count"] == 5
    assert facts["cleanup_glis_texture"] is False
    assert facts["cleanup_left"] == 0
    assert facts["cleanup_not_counted"] is True


def test_driver_cross_check_drops_objects_deleted_outside(facts: dict[str, Any]) -> None:
    assert facts["confirm_unchecked"] == 0  # the confirming call already dropped it from the ledger
    assert facts["confirm_dropped"] == 0


def test_driver_sweep_reports_objects_created_outside_pyopengl(facts: dict[str, Any]) -> None:
    assert facts["sweep"] == [["renderbuffer", facts["sweep_expected"], "created outside PyOpenGL"]]


def test_driver_sweep_sizes_what_it_finds_and_restores_bindings(facts: dict[str, Any]) -> None:
    assert facts["sweep_bytes"] == [["buffer", 1000], ["renderbuffer", 16 * 8 * 4], ["texture", 8 * 8 * 4 * 6]]
    assert facts["sweep_bindings_kept"] == [True, True, True]
    assert facts["sweep_gl_error"] == 0


def test_fixture_owned_objects_are_not_blamed_on_the_test(facts: dict[str, Any]) -> None:
    assert facts["fixture_owned"] == 0
    assert facts["fixture_live"] is True


def test_shared_and_per_context_objects(facts: dict[str, Any]) -> None:
    assert facts["shared_tex_after_delete"] == []
    vao_a, vaos_b = facts["vao_names"]
    assert vao_a in vaos_b, "per-context names collide across contexts"
    assert facts["vao_records"] == [[vao_a, False], [vao_a, True]]
    assert facts["unshared_groups"] is True
    assert facts["confirm_restores_current"] is True


def test_context_destruction_drops_its_objects(facts: dict[str, Any]) -> None:
    remaining = facts["after_shared_destroyed"]
    assert ["vertex_array", facts["vao_names"][0]] in remaining
    assert sum(1 for kind, _ in remaining if kind == "vertex_array") == 1
    assert sum(1 for kind, _ in remaining if kind == "texture") == 2  # unshared group still alive
    assert facts["after_unshared_destroyed"] == [["vertex_array", facts["vao_names"][0]]]


def test_egl_context_hooks(facts: dict[str, Any]) -> None:
    assert "egl_hook_error" not in facts, facts.get("egl_hook_error")
    assert facts["egl_hook_registered"] is True
    assert facts["egl_leak_before_destroy"] == 1
    assert facts["egl_hook_unregistered"] is True
    assert facts["egl_leak_after_destroy"] == 0


def test_ledger_view(facts: dict[str, Any]) -> None:
    assert facts["view"] == {"created": 3, "created_tex": 3, "deleted": 1, "live": 2, "buffers": 0}
    message = facts["view_assert"]
    assert message is not None and message.startswith("2 GL objects leaked (2 textures)")
    assert "2 textures created at " in message and "scenario.py:" in message
    assert facts["view_leaks_since_inner"] == 0


def test_no_hook_errors_and_no_gl_errors(facts: dict[str, Any]) -> None:
    assert facts["hook_errors"] == []
    assert facts["gl_error"] == 0


GLFW_SCRIPT = textwrap.dedent(
    r"""
    import json, os, sys
    os.environ["PYOPENGL_PLATFORM"] = "glx"
    import OpenGL.GL as gl
    from pytest_glleak.gl import create_context, ContextUnavailable
    from pytest_glleak.ledger import Ledger

    ledger = Ledger()
    ledger.install()  # before any window exists: glfw.create_window/destroy_window are hooked
    try:
        ctx = create_context("glfw", profile="core")
    except ContextUnavailable as exc:
        print(json.dumps({"unavailable": str(exc)}))
        sys.exit(0)
    facts = {}
    handle = ledger.attach_context(ctx)
    facts["attached_is_glx_context"] = handle != ctx.native_handle and handle in ledger.contexts()
    mark = ledger.mark()
    texture = int(gl.glGenTextures(1)); gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    shared = create_context("glfw", profile="core", share_with=ctx)  # seen only by the glfw hook
    facts["shared_registered_in_group"] = ledger.contexts().get(
        int(ledger._current() or 0)) == ledger.contexts()[handle]
    vao = int(gl.glGenVertexArrays(1)); gl.glBindVertexArray(vao); gl.glBindVertexArray(0)
    shared_texture = int(gl.glGenTextures(1)); gl.glBindTexture(gl.GL_TEXTURE_2D, shared_texture)
    gl.glBindTexture(gl.GL_TEXTURE_2D, 0)
    facts["before"] = sorted(r.kind for r in ledger.leaks_since(mark))
    shared.destroy()  # glfw.destroy_window: its VAO dies, the shared textures live on in ctx
    ctx.make_current()
    facts["after_shared_destroyed"] = sorted(r.kind for r in ledger.leaks_since(mark))
    ledger.detach_context(ctx)
    ctx.destroy()
    facts["after_last_destroyed"] = sorted(r.kind for r in ledger.leaks_since(mark, confirm=False))
    facts["hook_errors"] = [repr(e) for e in ledger.hook_errors]
    ledger.uninstall()
    print(json.dumps(facts))
    """
)


def test_glfw_windows_are_tracked(tmp_path: Path, xvfb_display: str) -> None:
    script = tmp_path / "glfw_scenario.py"
    script.write_text(GLFW_SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYOPENGL_"))}
    env["DISPLAY"] = xvfb_display
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    facts: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if "unavailable" in facts:
        pytest.skip(f"no glfw context: {facts['unavailable']}")
    assert facts["attached_is_glx_context"] is True
    assert facts["shared_registered_in_group"] is True
    assert facts["before"] == ["texture", "texture", "vertex_array"]
    assert facts["after_shared_destroyed"] == ["texture", "texture"]
    assert facts["after_last_destroyed"] == []
    assert facts["hook_errors"] == []
