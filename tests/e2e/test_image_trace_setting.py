"""--glleak-image-trace: tracemalloc for marked tests catches derived arrays; off keeps the cheap check."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("args", "failed"), [((), 2), (("--glleak-image-trace=off",), 1)])
def test_image_trace_setting(pytester: pytest.Pytester, args: tuple[str, ...], failed: int) -> None:
    pytester.copy_example("image_trace_setting/test_derived.py")
    result = pytester.runpytest("-p", "no:randomly", *args)
    result.assert_outcomes(passed=2 - failed, errors=failed)
    result.stdout.fnmatch_lines(["LEAKED test_derived.py::test_keeps_a_pil_image*"])
    if failed == 2:
        line = next(
            n
            for n, text in enumerate((pytester.path / "test_derived.py").read_text().splitlines(), 1)
            if "DERIVED" in text
        )
        result.stdout.fnmatch_lines(
            [f"*test_derived.py:{line}*", "LEAKED test_derived.py::test_keeps_a_derived_array*"]
        )


def test_bad_image_trace_value(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nglleak_image_trace = always\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid value 'always' for ini key glleak_image_trace*marked, off*"])
