"""@pytest.mark.no_gl_leak end to end: every kind caught with its count and creation line, clean twins pass."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

# kind -> (statements creating one object into `obj` (the creating line ends with "# CREATE"),
#          statements deleting it, extra pytest args)
KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "texture": (
        "obj = gl.glGenTextures(1)  # CREATE\ngl.glBindTexture(gl.GL_TEXTURE_2D, obj)",
        "gl.glDeleteTextures([obj])",
        (),
    ),
    "buffer": (
        "obj = gl.glGenBuffers(1)  # CREATE\ngl.glBindBuffer(gl.GL_ARRAY_BUFFER, obj)",
        "gl.glDeleteBuffers(1, [obj])",
        (),
    ),
    "renderbuffer": (
        "obj = gl.glGenRenderbuffers(1)  # CREATE\ngl.glBindRenderbuffer(gl.GL_RENDERBUFFER, obj)",
        "gl.glDeleteRenderbuffers(1, [obj])",
        (),
    ),
    "sampler": (
        "obj = gl.glGenSamplers(1)  # CREATE\ngl.glBindSampler(0, obj)",
        "gl.glDeleteSamplers(1, [obj])",
        (),
    ),
    "framebuffer": (
        "obj = gl.glGenFramebuffers(1)  # CREATE\ngl.glBindFramebuffer(gl.GL_FRAMEBUFFER, obj)",
        "gl.glDeleteFramebuffers(1, [obj])",
        (),
    ),
    "vertex_array": (
        "obj = gl.glGenVertexArrays(1)  # CREATE\ngl.glBindVertexArray(obj)",
        "gl.glDeleteVertexArrays(1, [obj])",
        (),
    ),
    "transform_feedback": (
        "obj = gl.glGenTransformFeedbacks(1)  # CREATE\ngl.glBindTransformFeedback(gl.GL_TRANSFORM_FEEDBACK, obj)",
        "gl.glDeleteTransformFeedbacks(1, [obj])",
        (),
    ),
    "program_pipeline": (
        "obj = gl.glGenProgramPipelines(1)  # CREATE\ngl.glBindProgramPipeline(obj)",
        "gl.glDeleteProgramPipelines(1, [obj])",
        (),
    ),
    "query": (
        "obj = gl.glGenQueries(1)[0]  # CREATE\ngl.glBeginQuery(gl.GL_SAMPLES_PASSED, obj)\n"
        "gl.glEndQuery(gl.GL_SAMPLES_PASSED)",
        "gl.glDeleteQueries(1, [obj])",
        (),
    ),
    "shader": ("obj = gl.glCreateShader(gl.GL_VERTEX_SHADER)  # CREATE", "gl.glDeleteShader(obj)", ()),
    "program": ("obj = gl.glCreateProgram()  # CREATE", "gl.glDeleteProgram(obj)", ()),
    "sync": (
        "obj = gl.glFenceSync(gl.GL_SYNC_GPU_COMMANDS_COMPLETE, 0)  # CREATE",
        "gl.glDeleteSync(obj)",
        (),
    ),
    "display_list": (
        "obj = gl.glGenLists(1)  # CREATE\ngl.glNewList(obj, gl.GL_COMPILE)\ngl.glEndList()",
        "gl.glDeleteLists(obj, 1)",
        ("--glleak-gl-profile=compat",),
    ),
}


def _test_module(create: str, delete: str) -> str:
    body_leak = textwrap.indent(create, "    ")
    body_clean = textwrap.indent(create.replace("  # CREATE", "") + "\n" + delete, "    ")
    return (
        "import pytest\nimport OpenGL.GL as gl\n\n\n"
        "@pytest.mark.no_gl_leak\ndef test_leaks(gl_context):\n" + body_leak + "\n\n\n"
        "@pytest.mark.no_gl_leak\ndef test_clean(gl_context):\n" + body_clean + "\n"
    )


def _create_line(source: str) -> int:
    return next(number for number, line in enumerate(source.splitlines(), 1) if "# CREATE" in line)


def _json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _tests_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_is_caught_with_count_and_creation_line(pytester: pytest.Pytester, kind: str) -> None:
    create, delete, args = KINDS[kind]
    source = _test_module(create, delete)
    pytester.makepyfile(test_kind=source)
    report = pytester.path / "report.json"
    result = pytester.runpytest("-p", "no:randomly", f"--glleak-json={report}", *args)
    result.assert_outcomes(passed=1, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    line = _create_line(source)
    result.stdout.fnmatch_lines(["test_kind.py L. *", f"LEAKED test_kind.py::test_leaks - leaked 1 {kind.replace('_', ' ')}*"])
    result.stdout.fnmatch_lines([f"*{kind}*test_kind.py:{line} in test_leaks*"])
    tests = _tests_by_name(_json(report))
    leaked = tests["test_leaks"]["gl"]["leaked"]
    assert [entry["kind"] for entry in leaked] == [kind]
    assert leaked[0]["create_site"][0]["line"] == line
    assert leaked[0]["create_site"][0]["file"].endswith("test_kind.py")
    assert tests["test_leaks"]["gl"]["created"].get(kind) == 1
    assert tests["test_clean"]["gl"]["leaked"] == []
    assert tests["test_clean"]["gl"]["deleted"].get(kind) == 1


IMPORT_STYLES = {
    "star_import": (
        "from OpenGL.GL import *\n",
        "tex = glGenTextures(1)  # CREATE\n    glBindTexture(GL_TEXTURE_2D, tex)\n",
    ),
    "early_name_from_conftest": (
        "from early_gl import early_gen_textures\nimport OpenGL.GL as gl\n",
        "tex = early_gen_textures(1)  # CREATE\n    gl.glBindTexture(gl.GL_TEXTURE_2D, tex)\n",
    ),
    "extension_module": (
        "import numpy as np\nimport OpenGL.GL as gl\n"
        "from OpenGL.GL.ARB.direct_state_access import glCreateTextures\n",
        "names = np.zeros(1, dtype=np.uint32)\n    glCreateTextures(gl.GL_TEXTURE_2D, 1, names)  # CREATE\n",
    ),
    "raw_module": (
        "import numpy as np\nfrom OpenGL.raw.GL.VERSION.GL_1_5 import glGenBuffers\n",
        "names = np.zeros(1, dtype=np.uint32)\n    glGenBuffers(1, names)  # CREATE\n",
    ),
}


@pytest.mark.parametrize("style", sorted(IMPORT_STYLES))
def test_every_import_style_is_seen(pytester: pytest.Pytester, style: str) -> None:
    header, body = IMPORT_STYLES[style]
    # A conftest that imports GL names before the plugin's interception is installed.
    pytester.makeconftest("from OpenGL.GL import glGenTextures as _early  # noqa: F401\n")
    pytester.makepyfile(early_gl="from OpenGL.GL import glGenTextures as early_gen_textures\n")
    pytester.syspathinsert()
    source = header + "import pytest\n\n\n@pytest.mark.no_gl_leak\ndef test_leaks(gl_context):\n    " + body
    pytester.makepyfile(test_style=source)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*test_style.py:{_create_line(source)} in test_leaks*"])


@pytest.mark.xdist
def test_leaks_under_xdist_have_the_same_verdicts(pytester: pytest.Pytester) -> None:
    for kind in ("texture", "buffer", "program", "vertex_array"):
        create, delete, _ = KINDS[kind]
        pytester.makepyfile(**{f"test_{kind}": _test_module(create, delete)})
    plain = pytester.runpytest("-p", "no:randomly")
    plain.assert_outcomes(passed=4, errors=4)
    distributed = pytester.runpytest("-p", "no:randomly", "-n", "2")
    distributed.assert_outcomes(passed=4, errors=4)
    for kind in ("texture", "buffer", "program", "vertex_array"):
        # pytest 8.0 prints no " - reason" under xdist (see test_images_e2e): the node id, on every pytest.
        distributed.stdout.fnmatch_lines([f"LEAKED test_{kind}.py::test_leaks*"])
        distributed.stdout.fnmatch_lines([f"leaked 1 {kind.replace('_', ' ')}"])  # the first line of its error section


def test_gl_semantics(pytester: pytest.Pytester) -> None:
    pytester.copy_example("no_gl_leak/test_semantics.py")
    report = pytester.path / "r.json"
    result = pytester.runpytest("-p", "no:randomly", "-v", f"--glleak-json={report}")
    tests = _tests_by_name(_json(report))
    outcomes = {name: entry["outcome"] for name, entry in tests.items()}
    assert outcomes == {
        "test_deferred_shader_and_program_deletion_is_not_a_leak": "passed",
        "test_reserved_never_bound_name_is_reported": "leaked",
        "test_name_reuse_after_delete": "passed",
        "test_deleting_unknown_names_and_zero_is_ignored": "passed",
        "test_argument_shapes": "passed",
        "test_shared_context_objects_outlive_the_sharer": "leaked",
        "test_objects_of_a_destroyed_unshared_context_died_with_it": "passed",
    }, result.stdout.str()
    reserved = tests["test_reserved_never_bound_name_is_reported"]["gl"]["leaked"]
    assert [(entry["kind"], entry["reserved_only"]) for entry in reserved] == [("buffer", True)]
    result.stdout.fnmatch_lines(["*reserved*never bound*"])
    shared = tests["test_shared_context_objects_outlive_the_sharer"]["gl"]["leaked"]
    assert [entry["kind"] for entry in shared] == ["texture"]


def test_fixture_scopes_and_blame(pytester: pytest.Pytester) -> None:
    pytester.copy_example("no_gl_leak/test_scopes.py")
    result = pytester.runpytest("-p", "no:randomly", "--glleak-no-cleanup")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        ["LEAKED test_scopes.py::test_function_fixture_leak_is_blamed - leaked 1 buffer*"]
    )
    written = (pytester.path / "test_scopes.py").read_text()
    line = next(n for n, text in enumerate(written.splitlines(), 1) if "FIXTURE-LEAK" in text)
    result.stdout.fnmatch_lines([f"*test_scopes.py:{line} in leaky_scratch*"])


def test_own_failure_stays_the_outcome_with_a_leak_section(pytester: pytest.Pytester) -> None:
    pytester.copy_example("no_gl_leak/test_own.py")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*its own failure*", "*glleak: leaks*", "*1 texture*"])
    result.stdout.fnmatch_lines(
        ["FAILED test_own.py::test_fails_and_leaks - AssertionError: its own failure*"]
    )


@pytest.mark.parametrize(("args", "expected"), [((), "DELETED"), (("--glleak-no-cleanup",), "ALIVE")])
def test_cleanup_deletes_leaked_objects_unless_disabled(
    pytester: pytest.Pytester, args: tuple[str, ...], expected: str
) -> None:
    pytester.copy_example("no_gl_leak/test_cleanup.py")
    result = pytester.runpytest("-p", "no:randomly", "-s", *args)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*{expected}*"])


def test_kinds_allow_and_modes(pytester: pytest.Pytester) -> None:
    pytester.copy_example("no_gl_leak/test_allow.py")
    marked = pytester.runpytest("-p", "no:randomly")
    marked.assert_outcomes(passed=4, errors=1)
    marked.stdout.fnmatch_lines(["LEAKED test_allow.py::test_third_texture_not_allowed - leaked 1 texture*"])
    every = pytester.runpytest("-p", "no:randomly", "--glleak-mode=all")
    every.assert_outcomes(passed=3, errors=2)
    every.stdout.fnmatch_lines(["LEAKED test_allow.py::test_unmarked_not_checked_in_marked_mode*"])
    off = pytester.runpytest("-p", "no:randomly", "--glleak-mode=off")
    off.assert_outcomes(passed=5)


@pytest.mark.parametrize(
    ("marker", "fragment"),
    [
        ('no_gl_leak(kinds=["teapot"])', "'teapot'"),
        ('no_gl_leak(allow={"texture": -1})', "-1"),
        ("no_gl_leak(3)", "3"),
        ('no_image_leak(allow="lots")', "'lots'"),
        ('max_memory_growth("a lot")', "'a lot'"),
        ("allow_gl_leak()", "allow_gl_leak"),
    ],
)
def test_bad_marker_arguments_are_usage_errors_naming_the_test(
    pytester: pytest.Pytester, marker: str, fragment: str
) -> None:
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.{marker}\ndef test_marked():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert "test_marked" in text and fragment in text, text


def test_markers_are_registered_with_their_signatures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.no_gl_leak(kinds=None, allow=None):*",
            "@pytest.mark.no_image_leak(allow=0, min_bytes=65536):*",
            "@pytest.mark.max_memory_growth(limit, warmup=3, repeat=5):*",
            "@pytest.mark.allow_gl_leak(reason):*",
            "@pytest.mark.allow_image_leak(reason):*",
        ]
    )


def test_gl_ledger_fixture(pytester: pytest.Pytester) -> None:
    pytester.copy_example("no_gl_leak/test_ledger.py")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def _clean_suite(count: int) -> str:
    bodies = [
        "t = gl.glGenTextures(1); gl.glBindTexture(gl.GL_TEXTURE_2D, t)\n"
        "    gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, 8, 8, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)\n"
        "    gl.glDeleteTextures([t])",
        "b = gl.glGenBuffers(1); gl.glBindBuffer(gl.GL_ARRAY_BUFFER, b)\n"
        "    gl.glBufferData(gl.GL_ARRAY_BUFFER, 64, None, gl.GL_STATIC_DRAW); gl.glDeleteBuffers(1, [b])",
        "v = gl.glGenVertexArrays(1); gl.glBindVertexArray(v); gl.glBindVertexArray(0)\n"
        "    gl.glDeleteVertexArrays(1, [v])",
        "s = gl.glCreateShader(gl.GL_FRAGMENT_SHADER); p = gl.glCreateProgram(); gl.glAttachShader(p, s)\n"
        "    gl.glDeleteShader(s); gl.glDeleteProgram(p)",
        "f = gl.glGenFramebuffers(1); gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, f)\n"
        "    gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, gl_context.framebuffer); gl.glDeleteFramebuffers(1, [f])",
        "q = gl.glGenQueries(1)[0]; gl.glBeginQuery(gl.GL_SAMPLES_PASSED, q); gl.glEndQuery(gl.GL_SAMPLES_PASSED)\n"
        "    gl.glDeleteQueries(1, [q])",
        "y = gl.glFenceSync(gl.GL_SYNC_GPU_COMMANDS_COMPLETE, 0); gl.glDeleteSync(y)",
        "r = gl.glGenRenderbuffers(1); gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, r)\n"
        "    gl.glRenderbufferStorage(gl.GL_RENDERBUFFER, gl.GL_RGBA8, 4, 4); gl.glDeleteRenderbuffers(1, [r])",
    ]
    lines = ["import OpenGL.GL as gl", ""]
    for index in range(count):
        lines += [f"def test_clean_{index}(gl_context):", "    " + bodies[index % len(bodies)], ""]
    return "\n".join(lines)


@pytest.mark.slow
def test_two_hundred_clean_gl_tests_report_nothing_in_mode_all(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_many=_clean_suite(200))
    report = pytester.path / "r.json"
    result = pytester.runpytest("--glleak-mode=all", f"--glleak-json={report}")
    result.assert_outcomes(passed=200)
    doc = _json(report)
    assert doc["summary"]["tests_checked"] == 200
    assert doc["summary"]["tests_leaked"] == 0 and doc["summary"]["leaked_gl_objects"] == 0
