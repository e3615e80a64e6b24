"""The import-time rule end to end (issues 12 and 17): objects made while a module is imported belong to
that module; code run by exec(), runpy or a doctest is the test's own code, whatever its frames are named."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

RUN_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")


def test_images_kept_by_exec_and_runpy_code_are_caught_with_their_site(pytester: pytest.Pytester) -> None:
    pytester.copy_example("module_frame")
    result = pytester.runpytest(*RUN_ARGS, "test_exec.py")

    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(["test_exec.py LLL. *"])
    for name in ("test_exec_leak", "test_runpy_leak", "test_direct_leak"):
        result.stdout.fnmatch_lines([f"LEAKED test_exec.py::{name} - leaked 1 Pillow image"])
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_exec_leak _*",
            "*RGBA 300x300*",
            "*<string>:1*",
            "*test_exec.py:14*test_exec_leak*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*_ ERROR at teardown of test_runpy_leak _*", "*RGBA 300x300*", "*script.py:5*"]
    )


def test_a_doctest_leaking_an_image_and_a_texture_is_caught_for_both(pytester: pytest.Pytester) -> None:
    pytester.copy_example("module_frame")
    result = pytester.runpytest(*RUN_ARGS, "--doctest-modules", "mod.py", "--glleak-mode=all")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["LEAKED mod.py::mod - leaked 1 texture, 1 Pillow image*"])
    result.stdout.fnmatch_lines(["*RGBA 300x300*", "*<doctest mod[[]4]>:1 in <module>*"])


def test_a_pillow_plugins_prototype_is_not_blamed_on_the_test_that_imported_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_plugins="""
        import sys

        from PIL import Image

        KEPT = []


        def test_makes_pillow_import_its_plugins_and_keeps_one_image():
            assert "PIL.PalmImagePlugin" not in sys.modules
            Image.init()  # imports every format plugin: PalmImagePlugin builds a prototype image
            assert "PIL.PalmImagePlugin" in sys.modules
            KEPT.append(Image.new("L", (400, 400)))
        """
    )
    result = pytester.runpytest(*RUN_ARGS, "--glleak-mode=all")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["leaked 1 Pillow image", "1 image buffer still alive after teardown*"])
    result.stdout.fnmatch_lines(["*L 400x400*"])
    result.stdout.no_fnmatch_line("*Palm*")
