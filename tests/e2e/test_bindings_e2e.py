"""moderngl and pyglet objects in the ledger, end to end in real EGL: kind, creation line, clean twins."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_glleak import speedups


def _line(pytester: pytest.Pytester, name: str, tag: str) -> int:
    text = (pytester.path / name).read_text()
    return next(number for number, line in enumerate(text.splitlines(), 1) if tag in line)


@pytest.mark.parametrize(
    ("workers", "pure"),
    [(0, False), pytest.param(2, False, marks=pytest.mark.xdist), (0, True)],
    ids=["in-process", "xdist-2", "pure-python"],
)
def test_moderngl_standalone_objects_kept_alive_leak_with_kind_and_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: int, pure: bool
) -> None:
    pytest.importorskip("moderngl")
    pytester.copy_example("moderngl/test_standalone.py")
    if pure:  # the same verdicts from the pure-Python recording, and the header says which ran
        monkeypatch.setenv("PYTEST_GLLEAK_PURE_PYTHON", "1")
    else:
        monkeypatch.delenv("PYTEST_GLLEAK_PURE_PYTHON", raising=False)
    xdist = ("-n", str(workers), "-p", "xdist") if workers else ()
    result = pytester.runpytest("-p", "no:randomly", *xdist)
    result.assert_outcomes(passed=3, errors=3)
    if pure:
        result.stdout.fnmatch_lines(
            ["glleak: recording in pure Python, without the C accelerator (PYTEST_GLLEAK_PURE_PYTHON is set)"]
        )
    elif speedups.native is not None:
        result.stdout.no_fnmatch_line("glleak: recording in pure Python*")
    name = "test_standalone.py"
    result.stdout.fnmatch_lines_random(
        [
            f"*LEAKED {name}::test_texture_kept - leaked 1 texture*",
            f"*LEAKED {name}::test_buffer_kept - leaked 1 buffer*",
            f"*LEAKED {name}::test_framebuffer_kept - leaked 1 framebuffer*",
        ]
    )
    if not workers:
        result.stdout.fnmatch_lines_random(
            [
                f"*1 texture created at {name}:{_line(pytester, name, 'TEXTURE-LEAK')} in test_texture_kept*",
                f"*1 buffer created at {name}:{_line(pytester, name, 'BUFFER-LEAK')} in test_buffer_kept*",
                f"*1 framebuffer created at {name}:{_line(pytester, name, 'FRAMEBUFFER-LEAK')} in test_framebuffer_kept*",
                "*texture *, label 'moderngl.Texture 64x64 RGBA8', 16.0 KiB,*in call*",
                "*buffer 1, label 'moderngl.Buffer 4096 bytes', 4.0 KiB,*in call*",
            ]
        )
    result.stdout.no_fnmatch_line("*test_released_is_clean*LEAKED*")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_moderngl_context_fixture_works_in_fifty_tests_and_sees_leaks(pytester: pytest.Pytester) -> None:
    pytest.importorskip("moderngl")
    pytester.copy_example("moderngl/test_fixture.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=51, errors=1)
    line = _line(pytester, "test_fixture.py", "FIXTURE-LEAK")
    result.stdout.fnmatch_lines(
        [
            f"*1 texture created at test_fixture.py:{line} in test_kept_texture_leaks*",
            "LEAKED test_fixture.py::test_kept_texture_leaks - leaked 1 texture*",
        ]
    )


def test_moderngl_imported_inside_a_test_is_seen_with_the_users_line(pytester: pytest.Pytester) -> None:
    pytest.importorskip("moderngl")
    pytester.copy_example("moderngl/test_late_import.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(errors=1)
    line = _line(pytester, "test_late_import.py", "LATE-LEAK")
    result.stdout.fnmatch_lines(
        [
            f"*1 texture created at test_late_import.py:{line} in test_imported_inside_the_test*",
            "*texture 1, label 'moderngl.Texture 8x8 RGBA8', 256 bytes,*in call*",
        ]
    )


def test_moderngl_share_context_objects_kept_leak_with_kind_and_line_released_are_clean(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("moderngl")
    pytester.copy_example("moderngl/test_share.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=2)
    name = "test_share.py"
    result.stdout.fnmatch_lines_random(
        [
            f"LEAKED {name}::test_share_texture_kept - leaked 1 texture*",
            f"*1 texture created at {name}:{_line(pytester, name, 'SHARE-TEXTURE-LEAK')} in test_share_texture_kept*",
            "*texture *, label 'moderngl.Texture 16x16 RGBA8', 1.0 KiB, in call*",
            # The test released its context: the buffer is shared, so it lives on in the share group.
            f"LEAKED {name}::test_share_buffer_kept_past_context_release - leaked 1*",
            f"*1 buffer created at {name}:{_line(pytester, name, 'SHARE-BUFFER-LEAK')} in *",
        ]
    )
    result.stdout.no_fnmatch_line("*test_share_released_is_clean*LEAKED*")
    result.stdout.no_fnmatch_line("*LEAKED*test_share_per_context_object_ends_with_its_context*")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_moderngl_object_of_a_module_fixture_is_the_fixtures_leak_not_the_tests(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("moderngl")
    pytester.copy_example("moderngl/test_module_fixture.py")
    result = pytester.runpytest("-p", "no:randomly")
    # test_b's teardown ends the module scope: the fixture's leak is its teardown error, naming the fixture.
    result.assert_outcomes(passed=1, errors=1)
    name = "test_module_fixture.py"
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_b _*",
            f"fixture atlas (module {name}) leaked 1 texture",
            "*",
            f"fixture atlas (module {name}) leaked 1 texture, checked when its scope ended:",
            "*",
            f"  1 texture created at {name}:{_line(pytester, name, 'MODULE-LEAK')} in atlas():",
            "    - texture *, label 'moderngl.Texture 128x128 RGBA8', 64.0 KiB, in setup",
        ]
    )
    result.stdout.fnmatch_lines([f"LEAKED {name}::test_b - fixture atlas (module*"])
    result.stdout.no_fnmatch_line("*tidy_atlas*leaked*")
    result.stdout.no_fnmatch_line(f"LEAKED {name}::test_a*")


def test_moderngl_gc_modes_releases_in_del_and_in_context_gc_are_seen(pytester: pytest.Pytester) -> None:
    pytest.importorskip("moderngl")
    pytester.copy_example("moderngl/test_gc_modes.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=2)
    name = "test_gc_modes.py"
    result.stdout.fnmatch_lines_random(
        [
            f"LEAKED {name}::test_auto_kept_object_leaks - leaked 1 texture",
            f"*1 texture created at {name}:{_line(pytester, name, 'AUTO-LEAK')} in test_auto_kept_object_leaks*",
            f"LEAKED {name}::test_context_gc_not_collected_leaks - leaked 1 texture",
            f"*1 texture created at {name}:{_line(pytester, name, 'GC-LEAK')} in test_context_gc_not_collected_leaks*",
            # The context the object was made in is asked (glIsTexture), through glcontext's __enter__.
            "    - texture *, label 'moderngl.Texture 16x16 RGBA8', 1.0 KiB, in call",
        ]
    )
    result.stdout.no_fnmatch_line("*LEAKED*test_auto_dropped_objects_are_clean*")
    result.stdout.no_fnmatch_line("*LEAKED*test_context_gc_collected_objects_are_clean*")


@pytest.mark.xdist
def test_moderngl_verdicts_under_xdist_equal_the_plain_run(pytester: pytest.Pytester) -> None:
    pytest.importorskip("moderngl")
    pytest.importorskip("xdist")
    for example in ("test_standalone.py", "test_share.py", "test_module_fixture.py"):
        pytester.copy_example(f"moderngl/{example}")
    plain_json, xdist_json = pytester.path / "plain.json", pytester.path / "xdist.json"
    plain = pytester.runpytest("-p", "no:randomly", f"--glleak-json={plain_json}")
    spread = pytester.runpytest("-p", "no:randomly", "-n", "2", f"--glleak-json={xdist_json}")
    assert plain.ret == spread.ret == pytest.ExitCode.TESTS_FAILED
    spread.stdout.no_fnmatch_line("*INTERNALERROR*")

    def verdicts(path: Path) -> dict[str, tuple[str, str]]:
        report: dict[str, Any] = json.loads(path.read_text())
        return {entry["nodeid"]: (entry["outcome"], entry["verdict"]) for entry in report["tests"]}

    expected = verdicts(plain_json)
    assert {nodeid for nodeid, (_, verdict) in expected.items() if verdict == "leaked"} >= {
        "test_standalone.py::test_texture_kept",
        "test_share.py::test_share_texture_kept",
        "test_share.py::test_share_buffer_kept_past_context_release",
    }
    assert verdicts(xdist_json) == expected


def test_moderngl_hooks_are_off_without_the_ledger_and_contexts_still_work(pytester: pytest.Pytester) -> None:
    pytest.importorskip("moderngl")
    pytester.copy_example("moderngl/test_standalone.py")
    result = pytester.runpytest("-p", "no:randomly", "--glleak-mode=off")
    result.assert_outcomes(passed=6)


def test_pyglet_headless_texture_kept_leaks_with_line_deleted_is_clean(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pyglet")
    pytester.copy_example("pyglet/test_headless.py")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=2)
    name = "test_headless.py"
    result.stdout.fnmatch_lines_random(
        [
            f"*1 texture created at {name}:{_line(pytester, name, 'TEXTURE-LEAK')} in test_texture_kept*",
            f"LEAKED {name}::test_texture_kept - leaked 1 texture*",
            f"*1 buffer created at {name}:{_line(pytester, name, 'BUFFER-LEAK')} in test_every_kind_kept*",
            f"*1 framebuffer created at {name}:{_line(pytester, name, 'FRAMEBUFFER-LEAK')} in test_every_kind_kept*",
            f"*1 program created at {name}:{_line(pytester, name, 'PROGRAM-LEAK')} in test_every_kind_kept*",
            f"*1 vertex_array created at {name}:{_line(pytester, name, 'VAO-LEAK')} in test_every_kind_kept*",
        ]
    )


@pytest.mark.slow
def test_hundred_clean_pyglet_tests_pass_in_mode_all(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pyglet")
    pytester.copy_example("pyglet/test_clean.py")
    result = pytester.runpytest("-p", "no:randomly", "--glleak-mode=all")
    result.assert_outcomes(passed=100)


@pytest.mark.slow
def test_two_hundred_clean_moderngl_tests_pass_in_mode_all(pytester: pytest.Pytester) -> None:
    pytest.importorskip("moderngl")
    pytester.makepyfile(
        test_clean=textwrap.dedent(
            """
            import moderngl
            import pytest

            CTX = moderngl.create_standalone_context(backend="egl")


            @pytest.mark.parametrize("index", range(100))
            def test_standalone(index):
                texture = CTX.texture((16, 16), 4)
                buffer = CTX.buffer(reserve=256 + index)
                fbo = CTX.framebuffer(color_attachments=[texture])
                fbo.use()
                CTX.clear(0.0, 1.0, 0.0, 1.0)
                for obj in (fbo, buffer, texture):
                    obj.release()


            @pytest.mark.parametrize("index", range(100))
            def test_fixture(moderngl_context, index):
                ctx = moderngl_context
                program = ctx.program(
                    vertex_shader="#version 330\\nin vec2 p;\\nvoid main() { gl_Position = vec4(p, 0.0, 1.0); }",
                    fragment_shader="#version 330\\nout vec4 c;\\nvoid main() { c = vec4(1.0); }",
                )
                buffer = ctx.buffer(b"\\x00" * 24)
                vao = ctx.vertex_array(program, [(buffer, "2f", "p")])
                sampler = ctx.sampler()
                texture = ctx.texture((4, 4), 1)
                for obj in (vao, program, buffer, sampler, texture):
                    obj.release()
            """
        )
    )
    result = pytester.runpytest("-p", "no:randomly", "--glleak-mode=all")
    result.assert_outcomes(passed=200)
