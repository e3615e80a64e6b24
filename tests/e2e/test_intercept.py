"""Interception of PyOpenGL's raw functions: every import style, with and without PyOpenGL-accelerate.

Each parameter runs one subprocess (PyOpenGL's platform and accelerate choice are fixed at import) that
reports what the ledger recorded for each call path; the tests assert on those facts.
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
    import ctypes, json, os, sys
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    from pytest_glleak.gl import create_context, ContextUnavailable
    try:
        ctx = create_context("egl", profile="compat")
    except ContextUnavailable as exc:
        print(json.dumps({"unavailable": str(exc)}))
        sys.exit(0)
    import numpy as np
    import OpenGL
    # Imported before the hooks exist, as a conftest or an early library import would.
    from OpenGL.GL import glGenTextures as early_gen, glDeleteTextures as early_delete
    import OpenGL.raw.GL.VERSION.GL_3_3 as raw33
    import OpenGL.platform
    from pytest_glleak.ledger.intercept import Interceptor
    from pytest_glleak.ledger import Ledger

    facts = {}
    from OpenGL import acceleratesupport
    facts["accelerate"] = bool(acceleratesupport.ACCELERATE_AVAILABLE)
    facts["ext_module_loaded_before"] = "OpenGL.raw.GL.EXT.framebuffer_object" in sys.modules
    facts["sampler_unloaded_before"] = "__call__" not in type(raw33.glGenSamplers).__dict__
    import OpenGL.raw.GL.VERSION.GL_4_5 as raw45
    # Resolved by its first call, made while hooked: that call loads it and calls itself again.
    facts["create_textures_unloaded_before"] = "__call__" not in type(raw45.glCreateTextures).__dict__
    watched = [type(raw33.glGenSamplers), type(early_gen)]
    before = [(("__call__" in cls.__dict__), ("load" in cls.__dict__)) for cls in watched]
    original_create = OpenGL.platform.createFunction

    ledger = Ledger()
    ledger.install()
    ledger.context_created(ctx.native_handle, ctx.share_group, ctx.make_current)
    ledger.test = "t"; ledger.phase = "call"

    def counts(create, delete):
        mark = ledger.mark()
        names = create()
        created = ledger.created_since(mark)
        delete(names)
        leaks = len(ledger.leaks_since(mark))
        return {"created": created, "deleted": ledger.deleted_since(mark), "leaks": leaks}

    import OpenGL.GL as gl
    styles = {}
    styles["module_attribute"] = counts(lambda: gl.glGenTextures(2), lambda n: gl.glDeleteTextures(n))
    star = {}
    exec("from OpenGL.GL import *", star)
    styles["star_import"] = counts(lambda: star["glGenBuffers"](3), lambda n: star["glDeleteBuffers"](3, n))
    styles["imported_before_install"] = counts(lambda: early_gen(1), lambda n: early_delete([n]))

    from OpenGL.GL.EXT.framebuffer_object import (
        glBindFramebufferEXT, glDeleteFramebuffersEXT, glGenFramebuffersEXT)
    def ext_create():
        name = glGenFramebuffersEXT(1)
        glBindFramebufferEXT(gl.GL_FRAMEBUFFER, name)
        glBindFramebufferEXT(gl.GL_FRAMEBUFFER, ctx.framebuffer)
        return name
    styles["ext_module_imported_after_install"] = counts(
        ext_create, lambda n: glDeleteFramebuffersEXT(1, [n]))
    # (OpenGL.GL.ARB.vertex_array_object cannot be imported after OpenGL.GL: a PyOpenGL 3.1.10 bug.)
    from OpenGL.GL.ARB.framebuffer_object import glDeleteFramebuffers as arb_delete
    from OpenGL.GL.ARB.framebuffer_object import glGenFramebuffers as arb_gen
    styles["arb_module"] = counts(lambda: arb_gen(2), lambda n: arb_delete(2, n))

    from OpenGL.raw.GL.VERSION.GL_1_1 import glDeleteTextures as raw_delete, glGenTextures as raw_gen
    def raw_create():
        names = np.zeros(2, np.uint32)
        raw_gen(2, names)
        return names
    styles["raw_module"] = counts(raw_create, lambda n: raw_delete(2, n))

    from OpenGL.GL import framebufferobjects
    styles["alternate_wrapper"] = counts(
        lambda: framebufferobjects.glGenFramebuffers(1),
        lambda n: framebufferobjects.glDeleteFramebuffers(1, [n]))
    from OpenGL.GL import shaders
    styles["shaders_module"] = counts(
        lambda: shaders.compileShader("#version 330\nvoid main() { gl_Position = vec4(0.0); }",
                                      gl.GL_VERTEX_SHADER),
        lambda n: gl.glDeleteShader(n))
    from OpenGL.GL.ARB.shader_objects import glCreateShaderObjectARB, glDeleteObjectARB
    styles["arb_shader_objects"] = counts(
        lambda: glCreateShaderObjectARB(gl.GL_VERTEX_SHADER), lambda n: glDeleteObjectARB(n))
    facts["styles"] = styles

    # The argument shapes of deletes and creates seen in real code.
    shapes = {}
    t = gl.glGenTextures(1)
    shapes["np_uint32_result"] = type(t).__name__
    shapes["delete_bare_scalar"] = counts(lambda: gl.glGenTextures(1), lambda n: gl.glDeleteTextures(n))
    shapes["delete_bare_int"] = counts(lambda: int(gl.glGenTextures(1)), lambda n: gl.glDeleteTextures(n))
    shapes["delete_n_list"] = counts(lambda: gl.glGenTextures(2), lambda n: gl.glDeleteTextures(2, list(n)))
    shapes["delete_n_ndarray"] = counts(
        lambda: gl.glGenTextures(2), lambda n: gl.glDeleteTextures(2, np.asarray(n, np.uint32)))
    shapes["delete_one_gluint"] = counts(
        lambda: gl.glGenTextures(1), lambda n: gl.glDeleteTextures(1, gl.GLuint(int(n))))
    def out_param():
        holder = gl.GLuint()
        gl.glGenVertexArrays(1, holder)
        return holder.value
    shapes["output_parameter"] = counts(out_param, lambda n: gl.glDeleteVertexArrays(1, [n]))
    def create_into_array():
        names = np.zeros(3, np.uint32)
        gl.glCreateTextures(gl.GL_TEXTURE_2D, 3, names)
        return names
    shapes["glcreate_caller_array"] = counts(create_into_array, lambda n: gl.glDeleteTextures(n))
    shapes["gen_lists_range"] = counts(lambda: gl.glGenLists(4), lambda base: gl.glDeleteLists(base, 4))
    shapes["sync_pointer"] = counts(
        lambda: gl.glFenceSync(gl.GL_SYNC_GPU_COMMANDS_COMPLETE, 0), lambda s: gl.glDeleteSync(s))
    shapes["program_int"] = counts(lambda: gl.glCreateProgram(), lambda p: gl.glDeleteProgram(p))
    facts["shapes"] = shapes

    # Lazy loading: a function unresolved at install is resolved by bool() and stays hooked.
    interceptor = ledger.interceptor
    facts["sampler_hooked_before_load"] = interceptor.is_hooked(raw33.glGenSamplers)
    facts["sampler_bool"] = bool(raw33.glGenSamplers)
    facts["sampler_hooked_after_load"] = interceptor.is_hooked(raw33.glGenSamplers)
    facts["sampler_counts"] = counts(lambda: gl.glGenSamplers(2), lambda n: gl.glDeleteSamplers(2, n))

    # Re-entrancy: GL calls made while a hooked call runs (here: from inside a handler) are not recorded.
    nested = []
    probe = Interceptor({
        "glGenTextures": lambda args, result: nested.append(int(gl.glGenBuffers(1))),
        "glGenBuffers": lambda args, result: nested.append(-1),
    })
    ledger.uninstall()
    probe.install()
    gl.glGenTextures(1)
    facts["reentrancy"] = nested
    probe.uninstall()
    ledger.install()
    ledger.context_created(ctx.native_handle, ctx.share_group, ctx.make_current)

    # Two ledgers at once (a nested in-process pytest run): both record; uninstalling the inner one
    # leaves the outer one working.
    inner = Ledger()
    inner.install()
    mark_outer, mark_inner = ledger.mark(), inner.mark()
    gl.glDeleteTextures([gl.glGenTextures(1)])
    facts["stacked_both"] = [ledger.created_since(mark_outer), inner.created_since(mark_inner)]
    inner.uninstall()
    mark_outer = ledger.mark()
    gl.glDeleteTextures([gl.glGenTextures(1)])
    facts["stacked_outer_after_inner_uninstall"] = ledger.created_since(mark_outer)

    # Symmetry: uninstall puts every class back; calls are no longer recorded; install works again.
    ledger.uninstall()
    after = [(("__call__" in cls.__dict__), ("load" in cls.__dict__)) for cls in watched]
    facts["symmetry"] = {"before": before, "after": after,
                         "create_function_restored": OpenGL.platform.createFunction is original_create}
    mark = ledger.mark()
    gl.glDeleteTextures([gl.glGenTextures(1)])
    facts["after_uninstall_created"] = ledger.created_since(mark)
    ledger.install()
    mark = ledger.mark()
    gl.glDeleteTextures([gl.glGenTextures(1)])
    facts["reinstalled_created"] = ledger.created_since(mark)
    facts["hook_errors"] = [repr(e) for e in ledger.hook_errors]
    ledger.uninstall()
    print(json.dumps(facts))
    """
)


@pytest.fixture(scope="module", params=["accelerate", "no-accelerate"])
def facts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    script = tmp_path_factory.mktemp("intercept") / "intercept_scenario.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYOPENGL_"))}
    env.pop("DISPLAY", None)
    if request.param == "no-accelerate":
        env["PYOPENGL_USE_ACCELERATE"] = "0"
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
    if request.param == "accelerate" and not reported["accelerate"]:
        pytest.skip("PyOpenGL-accelerate is not installed")
    reported["mode"] = request.param
    return reported


def test_accelerate_mode(facts: dict[str, Any]) -> None:
    assert facts["accelerate"] is (facts["mode"] == "accelerate")


EXPECTED_STYLES = {
    "module_attribute": ("texture", 2),
    "star_import": ("buffer", 3),
    "imported_before_install": ("texture", 1),
    "ext_module_imported_after_install": ("framebuffer", 1),
    "arb_module": ("framebuffer", 2),
    "raw_module": ("texture", 2),
    "alternate_wrapper": ("framebuffer", 1),
    "shaders_module": ("shader", 1),
    "arb_shader_objects": ("shader", 1),  # glDeleteObjectARB: one entry point for shaders and programs
}


@pytest.mark.parametrize("style", sorted(EXPECTED_STYLES))
def test_import_style_recorded_once(facts: dict[str, Any], style: str) -> None:
    kind, count = EXPECTED_STYLES[style]
    assert facts["styles"][style] == {"created": {kind: count}, "deleted": {kind: count}, "leaks": 0}


def test_extension_module_was_imported_after_install(facts: dict[str, Any]) -> None:
    assert facts["ext_module_loaded_before"] is False


EXPECTED_SHAPES = {
    "delete_bare_scalar": ("texture", 1),
    "delete_bare_int": ("texture", 1),
    "delete_n_list": ("texture", 2),
    "delete_n_ndarray": ("texture", 2),
    "delete_one_gluint": ("texture", 1),
    "output_parameter": ("vertex_array", 1),
    "glcreate_caller_array": ("texture", 3),
    "gen_lists_range": ("display_list", 4),
    "sync_pointer": ("sync", 1),
    "program_int": ("program", 1),
}


@pytest.mark.parametrize("shape", sorted(EXPECTED_SHAPES))
def test_argument_shapes(facts: dict[str, Any], shape: str) -> None:
    kind, count = EXPECTED_SHAPES[shape]
    assert facts["shapes"][shape] == {"created": {kind: count}, "deleted": {kind: count}, "leaks": 0}


def test_gen_returns_numpy_scalar(facts: dict[str, Any]) -> None:
    assert facts["shapes"]["np_uint32_result"] == "uint32"


def test_lazy_loaded_function_stays_hooked(facts: dict[str, Any]) -> None:
    assert facts["sampler_unloaded_before"] is True
    assert facts["sampler_hooked_before_load"] is True
    assert facts["sampler_bool"] is True
    assert facts["sampler_hooked_after_load"] is True
    assert facts["sampler_counts"]["created"] == {"sampler": 2}


def test_first_call_of_unresolved_function_recorded_once(facts: dict[str, Any]) -> None:
    # glCreateTextures was unresolved until the hooked call below loaded it: one call, three names.
    assert facts["create_textures_unloaded_before"] is True
    assert facts["shapes"]["glcreate_caller_array"]["created"] == {"texture": 3}


def test_reentrant_calls_are_not_recorded(facts: dict[str, Any]) -> None:
    # The handler of glGenTextures created one buffer; the nested glGenBuffers handler never ran.
    assert len(facts["reentrancy"]) == 1 and facts["reentrancy"][0] > 0


def test_install_uninstall_symmetric(facts: dict[str, Any]) -> None:
    symmetry = facts["symmetry"]
    # glGenSamplers was resolved while hooked: it keeps its resolution, and loses the hook's load().
    assert symmetry["before"][0] == [False, False] and symmetry["after"][0] == [True, False]
    assert symmetry["before"][1] == symmetry["after"][1]
    assert symmetry["create_function_restored"] is True
    assert facts["after_uninstall_created"] == {}
    assert facts["reinstalled_created"] == {"texture": 1}


def test_two_ledgers_stack(facts: dict[str, Any]) -> None:
    assert facts["stacked_both"] == [{"texture": 1}, {"texture": 1}]
    assert facts["stacked_outer_after_inner_uninstall"] == {"texture": 1}


def test_no_hook_errors(facts: dict[str, Any]) -> None:
    assert facts["hook_errors"] == []
