"""The example project's leaky variant is caught; the real module under the same tests is not.

``example_project/leaky_tests`` holds two everyday tests of a thumbnail viewer. Against
``glthumbs.leaky`` one leaks decoded images (a global cache with no eviction) and the other a texture (a
view that never calls glDeleteTextures); against ``glthumbs.view`` (``--thumbs-impl=real``) both are clean.
The creation lines are looked up by their ``# LEAK:`` marker comments, never hard-coded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
LEAKY_MODULE = EXAMPLE / "glthumbs" / "leaky.py"
LEAKY_TESTS = EXAMPLE / "leaky_tests"
#: Mirrors leaky_tests: 3 samples of 160x120 decoded to RGBA; a 48x40 RGBA texture, no mipmaps.
SAMPLE_COUNT = 3
DECODED_BYTES = 160 * 120 * 4
TEXTURE_BYTES = 48 * 40 * 4
IMAGE_KINDS = ("pil_image", "ndarray")


def marker_line(marker: str) -> int:
    """The line of glthumbs/leaky.py that carries ``# LEAK: <marker>``."""
    lines = LEAKY_MODULE.read_text().splitlines()
    found = [number for number, line in enumerate(lines, 1) if line.rstrip().endswith(f"# LEAK: {marker}")]
    assert len(found) == 1, f"expected one '# LEAK: {marker}' line in {LEAKY_MODULE}, found {found}"
    return found[0]


def in_leaky_module(site: list[dict[str, Any]], line: int) -> bool:
    """Whether a creation site has a frame at ``line`` of glthumbs/leaky.py."""
    return any(
        Path(frame["file"]).resolve() == LEAKY_MODULE.resolve() and frame["line"] == line for frame in site
    )


def run_leaky_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, implementation: str
) -> tuple[pytest.RunResult, dict[str, Any]]:
    shutil.copytree(LEAKY_TESTS, pytester.path / "leaky_tests", ignore=shutil.ignore_patterns("__pycache__"))
    # Import glthumbs from this checkout whether or not it is installed (editable installs agree).
    monkeypatch.setenv("PYTHONPATH", str(EXAMPLE))
    report = pytester.path / "r.json"
    result = pytester.runpytest(
        "leaky_tests",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        "--glleak-mode=all",
        f"--glleak-json={report}",
        f"--thumbs-impl={implementation}",
    )
    assert report.exists(), f"no JSON report written:\n{result.stdout.str()}\n{result.stderr.str()}"
    document = json.loads(report.read_text())
    tests = {entry["nodeid"].rsplit("::", 1)[-1]: entry for entry in document["tests"]}
    return result, tests


def test_both_classic_bugs_of_the_leaky_variant_are_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, tests = run_leaky_tests(pytester, monkeypatch, "leaky")
    result.assert_outcomes(errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    view = tests["test_thumbnail_view_draws"]
    assert view["outcome"] != "passed"
    textures = [leak for leak in view["gl"]["leaked"] if leak["kind"] == "texture"]
    assert len(textures) == 1, view["gl"]["leaked"]
    assert textures[0]["bytes"] == TEXTURE_BYTES
    assert in_leaky_module(textures[0]["create_site"], marker_line("texture")), textures[0]["create_site"]
    assert view["gl"]["created"].get("texture") == 1
    assert view["gl"]["deleted"].get("texture", 0) == 0
    assert [leak["kind"] for leak in view["gl"]["leaked"]] == ["texture"], "the renderer must not leak"
    assert (view.get("images") or {}).get("leaked", []) == []

    gallery = tests["test_gallery_thumbnails"]
    assert gallery["outcome"] != "passed"
    images = [leak for leak in gallery["images"]["leaked"] if leak["kind"] in IMAGE_KINDS]
    cache_line = marker_line("decoded image")
    from_cache = [leak for leak in images if in_leaky_module(leak["create_site"], cache_line)]
    assert len(from_cache) == SAMPLE_COUNT, gallery["images"]["leaked"]
    assert [leak["bytes"] for leak in from_cache] == [DECODED_BYTES] * SAMPLE_COUNT
    assert (gallery.get("gl") or {}).get("leaked", []) == []


def test_the_real_module_under_the_same_tests_reports_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, tests = run_leaky_tests(pytester, monkeypatch, "real")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    view = tests["test_thumbnail_view_draws"]
    assert view["gl"]["leaked"] == []
    assert view["gl"]["created"].get("texture") == view["gl"]["deleted"].get("texture") == 1
    gallery = tests["test_gallery_thumbnails"]
    assert gallery["images"]["leaked"] == []
    for entry in tests.values():
        assert entry["outcome"] == "passed"
        assert (entry.get("gl") or {}).get("leaked", []) == []
        assert (entry.get("images") or {}).get("leaked", []) == []
