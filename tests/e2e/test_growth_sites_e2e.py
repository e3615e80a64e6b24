"""Where memory grew: a failing max_memory_growth test names its allocation sites, GL objects and images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

pytest_plugins = ["pytester"]

RUN_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")
EXAMPLE = Path(__file__).parents[1] / "examples" / "memory" / "test_where.py"
SCHEMA = json.loads((Path(__file__).parents[1] / "glleak_report.schema.json").read_text())
MIB = 1 << 20


def line_of(tag: str) -> int:
    """The line of the example marked ``# GROWS:<tag>``."""
    for number, line in enumerate(EXAMPLE.read_text().splitlines(), 1):
        if line.rstrip().endswith(f"# GROWS:{tag}"):
            return number
    raise AssertionError(f"no line tagged {tag}")


def run_one(pytester: pytest.Pytester, name: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run one test of the example; its outcome and its JSON ``memory`` object."""
    pytester.copy_example("memory/test_where.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}", f"test_where.py::{name}")
    doc = json.loads(report.read_text())
    jsonschema.validate(doc, SCHEMA)
    (entry,) = doc["tests"]
    return result, entry["memory"]


def test_a_list_growing_one_mib_per_call_is_reported_at_its_line(pytester: pytest.Pytester) -> None:
    result, memory = run_one(pytester, "test_list_grows_one_mib_per_call")

    result.assert_outcomes(errors=1)
    line = line_of("list")
    result.stdout.fnmatch_lines(
        [
            "memory grew in every one of 5 measured repetitions: *",
            "Where it grew (the 5 measured repetitions run again under tracemalloc; *",
            f"  +1.0 MiB (* block*) [[]python[]] test_where.py:{line} in remember",
            "      called from test_where.py:* in test_list_grows_one_mib_per_call",
            "* grew 1.0 MiB per repetition: 1.0 MiB in Python/NumPy allocations listed above.",
        ]
    )
    top = memory["grew_at"][0]
    assert (Path(top["file"]).name, top["line"], top["function"], top["domain"]) == (
        "test_where.py",
        line,
        "remember",
        "python",
    )
    assert MIB <= top["bytes_per_iteration"] < MIB + 4096
    assert memory["explained_per_iteration"] >= MIB
    assert [frame["function"] for frame in top["stack"]] == ["remember", "test_list_grows_one_mib_per_call"]


def test_numpy_arrays_appended_are_reported_at_the_np_zeros_line(pytester: pytest.Pytester) -> None:
    result, memory = run_one(pytester, "test_numpy_arrays_appended")

    result.assert_outcomes(errors=1)
    line = line_of("numpy")
    result.stdout.fnmatch_lines(
        [f"  +1.0 MiB (1 block) [[]numpy[]] test_where.py:{line} in test_numpy_arrays_appended"]
    )
    top = memory["grew_at"][0]
    assert (top["line"], top["domain"], top["bytes_per_iteration"], top["blocks"]) == (line, "numpy", MIB, 1)


def test_a_cache_that_fills_once_passes_with_no_sites(pytester: pytest.Pytester) -> None:
    result, memory = run_one(pytester, "test_cache_fills_once_then_stays_flat")

    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*Where it grew*")
    assert "grew_at" not in memory and "gl_per_iteration" not in memory


def test_a_texture_made_per_call_shows_one_texture_per_repetition_at_its_line(
    pytester: pytest.Pytester,
) -> None:
    result, memory = run_one(pytester, "test_texture_per_call_never_deleted")

    result.assert_outcomes(errors=1)
    line = line_of("texture")
    result.stdout.fnmatch_lines(
        [
            "  +1 texture, +256.0 KiB GPU [[]gl[]]",
            f"      at test_where.py:{line} in upload",
            "         called from test_where.py:* in test_texture_per_call_never_deleted",
        ]
    )
    (row,) = memory["gl_per_iteration"]
    assert (row["kind"], row["count"], row["bytes"]) == ("texture", 1, 256 * 256 * 4)
    assert row["create_site"][0]["line"] == line
    assert memory["grew_at"] == []  # the texture's memory is the driver's, not Python's


def test_a_decoded_image_appended_per_call_shows_its_site_and_holder(pytester: pytest.Pytester) -> None:
    result, memory = run_one(pytester, "test_decoded_image_appended")

    result.assert_outcomes(errors=1)
    line = line_of("image")
    result.stdout.fnmatch_lines(
        [
            "  +1 image (Pillow RGBA 512x512), +1.0 MiB [[]image[]]",
            f"      at test_where.py:{line} in test_decoded_image_appended",
            "      held by item * of list HISTORY in module test_where",
            "* grew 1.0 MiB per repetition: 1.0 MiB in images listed above.",
        ]
    )
    (row,) = memory["images_per_iteration"]
    assert (row["kind"], row["count"], row["bytes"], row["mode"]) == ("pil_image", 1, MIB, "RGBA")
    assert "list HISTORY in module test_where" in row["held_by"]


def test_native_growth_is_said_to_be_native_with_no_python_site(pytester: pytest.Pytester) -> None:
    result, memory = run_one(pytester, "test_native_malloc")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "  no Python/NumPy allocation site, GL object or image grew in every repetition",
            "* grew 1.0 MiB per repetition, none of it in Python/NumPy allocations: the growth is native "
            "(a C extension, the GL driver).",
        ]
    )
    assert memory["grew_at"] == [] and memory["explained_per_iteration"] == 0
    assert memory["gl_per_iteration"] == [] and memory["images_per_iteration"] == []


def test_memory_baseline_measure_with_a_limit_fails_saying_where(pytester: pytest.Pytester) -> None:
    pytester.copy_example("memory/test_where.py")
    result = pytester.runpytest(*RUN_ARGS, "test_where.py::test_measure_with_a_limit_says_where")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *MemoryGrowthError: Memory growth per repetition *",
            "E *memory grew in every one of 4 measured repetitions: *, limit 262,144",
            "E *Where it grew (the 4 measured repetitions run again under tracemalloc; *",
            f"E *  +1.0 MiB (* block*) [[]python[]] test_where.py:{line_of('measure')} in *grow",
            "E *      called from test_where.py:* in test_measure_with_a_limit_says_where",
            "E *grew 1.0 MiB per repetition: 1.0 MiB in Python/NumPy allocations listed above.",
        ]
    )
