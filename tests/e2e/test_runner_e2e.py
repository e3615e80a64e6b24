"""Runner options end to end: the driver sweep (``--glleak-driver-sweep``) finds GL objects made behind
PyOpenGL's back."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

pytest_plugins = ["pytester"]

# Textures made through the GL library directly (as moderngl, Qt or a C extension would): no PyOpenGL
# function is called, so no hook sees them; only the driver knows.
OUTSIDE = textwrap.dedent(
    """
    import ctypes

    import OpenGL.GL as gl
    import pytest

    LIB = ctypes.CDLL("libOpenGL.so.0")
    LIB.glGenTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
    LIB.glBindTexture.argtypes = [ctypes.c_uint, ctypes.c_uint]
    LIB.glDeleteTextures.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_uint)]
    KEPT = []


    def make_texture():
        name = ctypes.c_uint()
        LIB.glGenTextures(1, ctypes.byref(name))
        LIB.glBindTexture(gl.GL_TEXTURE_2D, name.value)
        LIB.glBindTexture(gl.GL_TEXTURE_2D, 0)
        return name


    @pytest.mark.no_gl_leak
    def test_outside_kept(gl_context):
        KEPT.append(make_texture())


    @pytest.fixture(scope="module")
    def outside_atlas(gl_context):
        return make_texture()


    @pytest.mark.no_gl_leak
    def test_uses_module_fixture_made_outside(outside_atlas):
        assert outside_atlas.value > 0


    @pytest.mark.no_gl_leak
    def test_outside_deleted(gl_context):
        name = make_texture()
        LIB.glDeleteTextures(1, ctypes.byref(name))


    @pytest.mark.no_gl_leak
    def test_after_the_leak(gl_context):
        texture = gl.glGenTextures(1)
        gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
        gl.glDeleteTextures([texture])
    """
)


@pytest.mark.parametrize("sweep", [True, False], ids=["sweep", "no-sweep"])
def test_driver_sweep_reports_textures_created_outside_pyopengl(
    pytester: pytest.Pytester, sweep: bool
) -> None:
    pytester.makepyfile(test_outside=OUTSIDE)
    report = pytester.path / "report.json"
    args = ["-p", "no:randomly", f"--glleak-json={report}"] + (["--glleak-driver-sweep"] if sweep else [])
    result = pytester.runpytest(*args)

    doc: dict[str, Any] = json.loads(report.read_text())
    tests = {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}
    if not sweep:
        # The ledger alone cannot see it: this is what the sweep adds.
        result.assert_outcomes(passed=4)
        assert tests["test_outside_kept"]["gl"]["leaked"] == []
        return
    result.assert_outcomes(passed=3, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "test_outside.py L... *",
            "*texture *, label 'created outside PyOpenGL', in unknown phase",
            "LEAKED test_outside.py::test_outside_kept - leaked 1 texture",
        ]
    )
    (leaked,) = tests["test_outside_kept"]["gl"]["leaked"]
    assert leaked["kind"] == "texture" and leaked["label"] == "created outside PyOpenGL"
    assert tests["test_outside_kept"]["gl"]["created"] == {}  # no hook saw it made
    # A module-scoped fixture's texture is the fixture's; one deleted behind PyOpenGL's back too is gone;
    # the earlier leak is not blamed on later tests.
    assert tests["test_uses_module_fixture_made_outside"]["verdict"] == "clean"
    assert tests["test_outside_deleted"]["verdict"] == "clean"
    assert tests["test_after_the_leak"]["verdict"] == "clean"
    assert tests["test_after_the_leak"]["gl"]["created"] == {"texture": 1}
