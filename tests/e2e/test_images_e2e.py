"""@pytest.mark.no_image_leak and --glleak-mode=all end to end, through the real plugin in a subprocess.

Each leaky pattern is caught with status L / LEAKED and exit code 1, and its failure text names the kind,
mode or dtype, dimensions, bytes, the creation line (worked out from the written source) and what holds
it; each clean pattern passes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["pytester"]

RUN_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider")


def line_of(written: Path, tag: str) -> int:
    """The line (1-based) of the written file that carries ``# CREATE:<tag>``."""
    lines = written.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.endswith(f"# CREATE:{tag}"))


def load_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in doc["tests"]}


@pytest.mark.parametrize(
    "workers", [0, pytest.param(2, marks=pytest.mark.xdist)], ids=["in-process", "xdist-2"]
)
def test_leaky_patterns_are_caught_with_their_details(pytester: pytest.Pytester, workers: int) -> None:
    written = pytester.copy_example("images/test_leaky.py")
    report = pytester.path / "report.json"
    xdist = ("-n", str(workers)) if workers else ()
    result = pytester.runpytest(*RUN_ARGS, *xdist, f"--glleak-json={report}")

    result.assert_outcomes(errors=5)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    if workers:  # workers finish in any order: each test is one L (its teardown carries the status)
        progress = next(line for line in result.outlines if line.endswith("[100%]"))
        assert sorted(progress.split()[0]) == sorted("L" * 5)
    else:
        result.stdout.fnmatch_lines(["test_leaky.py LLLLL *"])
    for summary in (
        "LEAKED test_leaky.py::test_module_dict - leaked 1 Pillow image",
        "LEAKED test_leaky.py::test_array_in_list - leaked 1 NumPy array",
        "LEAKED test_leaky.py::test_closure - leaked 1 Pillow image",
        "LEAKED test_leaky.py::test_unbounded_cache - leaked 3 Pillow images",
        "LEAKED test_leaky.py::test_pillow_counters - leaked 1 Pillow block",
    ):
        # Under xdist, pytest < 8.x (8.0 seen) prints no " - reason" for a report whose text came over
        # the wire as a string: match what every supported pytest prints there.
        result.stdout.fnmatch_lines([summary.split(" - ")[0] + "*" if workers else summary])
    path = written.name  # creation sites are relative to the rootdir
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_module_dict _*",
            "1 image buffer still alive after teardown (234.4 KiB (240,000 B)):",
            "  1. Pillow image RGBA 300x200, 234.4 KiB (240,000 B) [[]created in call[]]",
            "     held by key 'hero' of dict CACHE in module test_leaky",
            "     created at:",
            f"       {path}:{line_of(written, 'module_dict')} in test_module_dict()",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_array_in_list _*",
            "1 image buffer still alive after teardown (175.8 KiB (180,000 B)):",
            "  1. NumPy array uint8 200x300x3, 175.8 KiB (180,000 B) [[]created in call[]]",
            "     held by item 0 of list FRAMES in module test_leaky",
            "     created at:",
            f"       {path}:{line_of(written, 'array_in_list')} in test_array_in_list()",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_closure _*",
            "  1. Pillow image L 256x256, 64.0 KiB (65,536 B) [[]created in call[]]",
            "     held by closure cell 'frame' of test_closure.<locals>.redraw()",
            "     created at:",
            f"       {path}:{line_of(written, 'closure')} in test_closure()",
        ]
    )
    cache_lines = [
        "*_ ERROR at teardown of test_unbounded_cache _*",
        "3 image buffers still alive after teardown *",
    ]
    for number, side in enumerate((100, 150, 200), 1):
        cache_lines += [
            f"  {number}. Pillow image RGB {side}x{side}, * [[]created in call[]]",
            f"     held by key ({side}, {side}) of dict, in attribute thumbnails of ThumbnailCache instance "
            "THUMBNAILS in module test_leaky",
            "     created at:",
            f"       {path}:{line_of(written, 'thumbnail')} in ThumbnailCache.get()",
            f"       {path}:{line_of(written, 'unbounded_cache')} in test_unbounded_cache()",
        ]
    result.stdout.fnmatch_lines(cache_lines)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_pillow_counters _*",
            "  1. 1 Pillow pixel block in use that no live Image explains",
            "     held by an orphan image core (RGB 512x512, no Image wrapper) in item 0 of list CORES in "
            "module test_leaky",
        ]
    )

    tests = by_name(load_json(report))
    (kept,) = tests["test_module_dict"]["images"]["leaked"]
    assert (kept["kind"], kept["mode"], kept["shape"], kept["bytes"]) == (
        "pil_image",
        "RGBA",
        [300, 200],
        240000,
    )
    assert kept["create_site"][0]["line"] == line_of(written, "module_dict")
    (array,) = tests["test_array_in_list"]["images"]["leaked"]
    assert (array["kind"], array["dtype"], array["shape"], array["bytes"]) == (
        "ndarray",
        "uint8",
        [200, 300, 3],
        180000,
    )
    assert sorted(item["shape"] for item in tests["test_unbounded_cache"]["images"]["leaked"]) == [
        [100, 100],
        [150, 150],
        [200, 200],
    ]
    (blocks,) = tests["test_pillow_counters"]["images"]["leaked"]
    assert blocks["kind"] == "pillow_blocks" and blocks["count"] == 1
    assert all(entry["verdict"] == "leaked" and entry["outcome"] == "leaked" for entry in tests.values())


@pytest.mark.parametrize("hook_clears", [True, False], ids=["hook-clears-cache", "no-hook"])
def test_clean_patterns_pass_and_the_before_check_hook_clears_caches(
    pytester: pytest.Pytester, hook_clears: bool
) -> None:
    pytester.copy_example("images/viewer")
    viewer = pytester.path / "viewer.py"
    if hook_clears:
        pytester.copy_example("images/clearing/conftest.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-json={report}")

    tests = by_name(load_json(report))
    assert set(tests) == {
        "test_created_and_dropped",
        "test_bounded_cache",
        "test_function_fixture_image",
        "test_module_fixture_image",
        "test_module_fixture_image_again",
    }
    for name, entry in tests.items():
        if name != "test_bounded_cache":
            assert entry["verdict"] == "clean", name
            assert entry["images"] == {"leaked": []}, name
    if hook_clears:
        result.assert_outcomes(passed=5)
        assert result.ret == pytest.ExitCode.OK
        assert tests["test_bounded_cache"]["verdict"] == "clean"
    else:
        # Without the hook the cache's four survivors are the test's: the hook is what made it pass.
        result.assert_outcomes(passed=4, errors=1)
        leaked = tests["test_bounded_cache"]["images"]["leaked"]
        assert sorted(item["shape"] for item in leaked) == [[120, 120], [130, 130], [140, 140], [150, 150]]
        assert {item["create_site"][0]["line"] for item in leaked} == {line_of(viewer, "bounded_cache")}
        result.stdout.fnmatch_lines(["     held by key (120, 120) of dict CACHE in module viewer"])


@pytest.mark.parametrize("mode", ["all", "marked"])
def test_mode_all_checks_unmarked_tests_and_allow_image_leak_opts_out(
    pytester: pytest.Pytester, mode: str
) -> None:
    written = pytester.copy_example("images/test_modes.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, f"--glleak-mode={mode}", f"--glleak-json={report}")

    doc = load_json(report)
    if mode == "marked":
        result.assert_outcomes(passed=4)
        assert doc["summary"]["tests_checked"] == 0
        return
    result.assert_outcomes(passed=3, errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "test_modes.py L... *",
            f"*test_modes.py:{line_of(written, 'unmarked')} in test_unmarked_keeps()",
            "LEAKED test_modes.py::test_unmarked_keeps - leaked 1 Pillow image",
        ]
    )
    tests = by_name(doc)
    assert tests["test_unmarked_keeps"]["verdict"] == "leaked"
    assert tests["test_unmarked_drops"]["verdict"] == "clean"
    # mode=all checks images only where the test made some; an opted-out test is not checked at all.
    assert set(tests) == {"test_unmarked_keeps", "test_unmarked_drops"}
    assert doc["summary"]["tests_checked"] == 2


def test_what_a_test_keeps_only_through_its_traceback_or_imports_is_not_a_leak(
    pytester: pytest.Pytester,
) -> None:
    pytester.copy_example("images/not_leaks")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "--glleak-mode=all", f"--glleak-json={report}")

    # Each test keeps its own outcome; the failing one fails for its assertion only.
    result.assert_outcomes(passed=2, failed=1, skipped=1, xfailed=1)
    result.stdout.no_fnmatch_line("*LEAKED*")
    result.stdout.no_fnmatch_line("*glleak: leaks*")
    result.stdout.fnmatch_lines(
        ["FAILED test_not_leaks.py::test_failing_with_an_image_in_its_locals - assert*"]
    )
    summary = load_json(report)["summary"]
    assert summary["tests_leaked"] == 0 and summary["leaked_image_buffers"] == 0
    assert summary["tests_checked"] == 5


def _clean_image_suite(count: int) -> str:
    bodies = [
        # decode PNG from bytes, convert, resize
        "image = Image.open(io.BytesIO(PNG)).convert('RGBA').resize((160, 120))\n"
        "    assert image.size == (160, 120)",
        # decode JPEG from bytes, to NumPy and back
        "pixels = np.asarray(Image.open(io.BytesIO(JPEG)))\n"
        "    back = Image.fromarray(pixels[::-1].copy())\n    assert back.mode == 'RGB'",
        # NumPy to image, convert to grey, to NumPy copy
        "image = Image.fromarray(np.full((200, 200, 3), 7, dtype=np.uint8)).convert('L')\n"
        "    assert np.array(image).mean() > 0",
        # decode, thumbnail, re-encode to PNG
        "image = Image.open(io.BytesIO(PNG))\n    image.thumbnail((64, 64))\n"
        "    out = io.BytesIO()\n    image.save(out, 'PNG')\n    assert out.tell() > 0",
        # decode, crop, rotate, frombytes round trip
        "image = Image.open(io.BytesIO(JPEG)).crop((0, 0, 100, 80)).rotate(90, expand=True)\n"
        "    raw = image.tobytes()\n    assert Image.frombytes(image.mode, image.size, raw).size == (80, 100)",
    ]
    lines = [
        "import io",
        "import numpy as np",
        "from PIL import Image",
        "",
        "def encode(fmt):",
        "    buffer = io.BytesIO()",
        "    Image.linear_gradient('L').resize((320, 240)).convert('RGB').save(buffer, fmt)",
        "    return buffer.getvalue()",
        "",
        "PNG, JPEG = encode('PNG'), encode('JPEG')",
        "",
    ]
    for index in range(count):
        lines += [f"def test_clean_{index}():", "    " + bodies[index % len(bodies)], ""]
    return "\n".join(lines)


def test_two_hundred_clean_image_tests_report_nothing_in_mode_all(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_many=_clean_image_suite(200))
    pytester.copy_example("images/counting/conftest.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "--glleak-mode=all", f"--glleak-json={report}")

    result.assert_outcomes(passed=200)
    # The clean path never collects: a full collection costs more than a small test.
    assert (pytester.path / "collections.txt").read_text() == "0"
    summary = load_json(report)["summary"]
    assert summary["tests_checked"] == 200  # every test made images, so every test was checked
    assert summary["tests_clean"] == 200
    assert summary["tests_leaked"] == 0 and summary["leaked_image_buffers"] == 0
    assert summary["image_bytes_leaked"] == 0 and summary["top_sites"] == []


def test_mode_all_catches_a_copied_decode_kept_in_a_list(pytester: pytest.Pytester) -> None:
    # np.array(Image.open(p)), the common decode idiom, makes a copy; the cheap path of mode=all sees it.
    written = pytester.copy_example("images/test_copies.py")
    report = pytester.path / "report.json"
    result = pytester.runpytest(*RUN_ARGS, "--glleak-mode=all", f"--glleak-json={report}")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "test_copies.py L. *",
            "*NumPy array uint8 200x300x3, 175.8 KiB (180,000 B)*",
            "*held by item 0 of list FRAMES in module test_copies*",
            f"*test_copies.py:{line_of(written, 'copy')} in test_copy_kept_in_list()",
            "LEAKED test_copies.py::test_copy_kept_in_list - leaked 1 NumPy array",
        ]
    )
    tests = by_name(load_json(report))
    assert tests["test_copy_kept_in_list"]["verdict"] == "leaked"
    assert tests["test_copies_dropped"]["verdict"] == "clean"
