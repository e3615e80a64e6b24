"""The known-leak baseline: create, compare (known, new site, higher count, growth), update, errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_glleak.report.baseline import (
    Baseline,
    BaselineEntry,
    BaselineError,
    KnownLeak,
    baseline_text,
    environment_mismatch,
    load_baseline,
    missing_baseline_message,
    updated_baseline,
    write_baseline,
)

LLVMPIPE = {
    "backend": "egl",
    "vendor": "Mesa",
    "renderer": "llvmpipe (LLVM 15.0.6, 256 bits)",
    "gl_version": "4.5 (Core Profile) Mesa 23.0",
    "python": "3.11.2",
    "platform": "Linux",
}
UPLOAD = ("viewer/render.py", 88, "upload")
VBO = ("viewer/render.py", 120, "make_vbo")


def gl_leak(kind: str, site: tuple[str, int, str], name: int = 1) -> dict[str, Any]:
    file, line, function = site
    return {
        "kind": kind,
        "name": name,
        "label": None,
        "bytes": 1024,
        "context": 1,
        "phase": "call",
        "reserved_only": False,
        "create_site": [
            {"file": file, "line": line, "function": function},
            {"file": "tests/test_view.py", "line": 5, "function": "test_it"},
        ],
    }


def findings(nodeid: str, *leaks: dict[str, Any], memory: dict[str, int] | None = None) -> Any:
    found: dict[str, Any] = {
        "nodeid": nodeid,
        "checks": ["gl"],
        "gl": {"created": {}, "deleted": {}, "leaked": list(leaks)},
    }
    if memory is not None:
        found["checks"].append("memory")
        found["memory"] = memory
    return found


def textures(count: int, site: tuple[str, int, str] = UPLOAD) -> list[dict[str, Any]]:
    return [gl_leak("texture", site, name) for name in range(1, count + 1)]


def recorded(tmp_path: Path) -> tuple[Path, Baseline]:
    """A baseline created from a first run: a texture leak, an image leak, a growth, and a clean test."""
    run: list[Any] = [
        findings("tests/test_view.py::test_upload", *textures(3), gl_leak("buffer", VBO)),
        {
            "nodeid": "tests/test_img.py::test_cache",
            "checks": ["images"],
            "images": {
                "leaked": [
                    {
                        "kind": "pil_image",
                        "mode": "RGB",
                        "shape": [64, 64],
                        "bytes": 12288,
                        "create_site": [{"file": "viewer/cache.py", "line": 9, "function": "thumb"}],
                    },
                    {"kind": "pillow_blocks", "count": 3, "bytes": 0, "create_site": []},
                ]
            },
        },
        findings("tests/test_mem.py::test_grows", memory={"per_iteration": 1_000_000, "limit": 100_000}),
        findings("tests/test_view.py::test_clean"),
    ]
    baseline, changes = updated_baseline(None, run, [found["nodeid"] for found in run], LLVMPIPE)
    assert changes == [
        "added tests/test_img.py::test_cache: 1 Pillow image at viewer/cache.py:9 in thumb(), "
        "3 Pillow blocks at <unknown site>",
        "added tests/test_mem.py::test_grows: memory per_iteration 1,000,000",
        "added tests/test_view.py::test_upload: 1 buffer at viewer/render.py:120 in make_vbo(), "
        "3 textures at viewer/render.py:88 in upload()",
    ]
    path = tmp_path / "glleak-baseline.json"
    write_baseline(path, baseline)
    loaded = load_baseline(path)
    assert loaded is not None
    return path, loaded


# --- creating ------------------------------------------------------------------------------------
def test_missing_file_is_none_and_the_hint_says_how_to_create_it(tmp_path: Path) -> None:
    path = tmp_path / "known-leaks.json"
    assert load_baseline(path) is None
    hint = missing_baseline_message(path)
    assert str(path) in hint and "--glleak-baseline-update" in hint
    assert not path.exists()


def test_create_writes_a_sorted_diff_friendly_file(tmp_path: Path) -> None:
    path, loaded = recorded(tmp_path)
    text = path.read_text()
    document = json.loads(text)
    assert text.endswith("}\n") and text == baseline_text(loaded)  # canonical, so a rewrite is a no-op diff
    assert document["format"] == "pytest-glleak-baseline" and document["format_version"] == 1
    assert document["environment"]["renderer"] == LLVMPIPE["renderer"]
    assert sorted(document["tests"]) == [
        "tests/test_img.py::test_cache",
        "tests/test_mem.py::test_grows",
        "tests/test_view.py::test_upload",
    ]
    assert document["tests"]["tests/test_view.py::test_upload"]["leaks"] == [
        {"kind": "buffer", "site": "viewer/render.py:120 in make_vbo", "count": 1},
        {"kind": "texture", "site": "viewer/render.py:88 in upload", "count": 3},
    ]
    assert document["tests"]["tests/test_img.py::test_cache"]["leaks"][1] == {
        "kind": "pillow_blocks",
        "site": "<unknown site>",
        "count": 3,
    }
    assert document["tests"]["tests/test_mem.py::test_grows"] == {
        "leaks": [],
        "memory": {"per_iteration": 1_000_000},
    }
    assert os.listdir(tmp_path) == ["glleak-baseline.json"]


# --- comparing -----------------------------------------------------------------------------------
def test_known_leaks_at_or_below_the_recorded_count_pass_with_a_note(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)
    same = baseline.compare(findings("tests/test_view.py::test_upload", *textures(3), gl_leak("buffer", VBO)))
    assert same.passed and same.regressions == ()
    note = "3 textures created at viewer/render.py:88 in upload(): known leak (baseline allows 3)"
    assert note in same.known
    fewer = baseline.compare(findings("tests/test_view.py::test_upload", *textures(1)))
    assert fewer.passed
    assert fewer.known == (
        "1 texture created at viewer/render.py:88 in upload(): known leak (baseline allows 3)",
    )


def test_a_leak_from_a_new_site_is_a_regression(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)
    verdict = baseline.compare(
        findings(
            "tests/test_view.py::test_upload",
            *textures(3),
            gl_leak("texture", ("viewer/other.py", 3, "load")),
        )
    )
    assert not verdict.passed
    assert verdict.regressions == (
        "new site: 1 texture created at viewer/other.py:3 in load() (not a known leak site of this test)",
    )
    assert len(verdict.known) == 1  # the recorded site is still reported as known


def test_a_new_kind_at_a_known_site_is_a_regression(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)
    verdict = baseline.compare(findings("tests/test_view.py::test_upload", gl_leak("sampler", UPLOAD)))
    assert verdict.regressions == (
        "new site: 1 sampler created at viewer/render.py:88 in upload() (not a known leak site of this test)",
    )


def test_a_higher_count_is_a_regression(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)
    verdict = baseline.compare(findings("tests/test_view.py::test_upload", *textures(4)))
    assert verdict.regressions == (
        "higher count: 4 textures created at viewer/render.py:88 in upload(), the baseline allows 3",
    )


def test_a_leak_in_a_test_without_an_entry_is_new(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)
    verdict = baseline.compare(findings("tests/test_view.py::test_clean", *textures(1)))
    assert verdict.regressions == (
        "new leak: 1 texture created at viewer/render.py:88 in upload() (this test has no baseline entry)",
    )
    assert baseline.compare(findings("tests/test_view.py::test_clean")).passed


def test_a_known_site_whose_line_moved_still_matches_on_file_and_function(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)
    moved = ("viewer/render.py", 91, "upload")
    verdict = baseline.compare(findings("tests/test_view.py::test_upload", *textures(2, moved)))
    assert verdict.passed
    assert verdict.known == (
        "2 textures created at viewer/render.py:91 in upload(): known leak (baseline "
        "allows "
        "3) (recorded at viewer/render.py:88 in upload(); the line moved)",
    )
    worse = baseline.compare(findings("tests/test_view.py::test_upload", *textures(5, moved)))
    assert worse.regressions and worse.regressions[0].startswith("higher count: 5 textures")


def test_image_leaks_and_pillow_block_counts_compare_like_gl_leaks(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)

    def cache(blocks: int) -> Any:
        return {
            "nodeid": "tests/test_img.py::test_cache",
            "checks": ["images"],
            "images": {"leaked": [{"kind": "pillow_blocks", "count": blocks, "bytes": 0, "create_site": []}]},
        }

    assert baseline.compare(cache(3)).passed
    assert baseline.compare(cache(4)).regressions == (
        "higher count: 4 Pillow blocks created at <unknown site>, the baseline allows 3",
    )


def test_memory_growth_compares_with_a_tolerance(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)  # recorded per_iteration 1,000,000; default tolerance 10%

    def grows(amount: int) -> Any:
        return findings("tests/test_mem.py::test_grows", memory={"per_iteration": amount, "limit": 100_000})

    within = baseline.compare(grows(1_099_999))
    assert within.passed
    assert within.known == ("memory per_iteration: 1,099,999 bytes, within 10% of the baseline's 1,000,000",)
    above = baseline.compare(grows(1_100_001))
    assert above.regressions == (
        "memory per_iteration: 1,100,001 bytes, more than 10% above the baseline's 1,000,000",
    )
    baseline.tolerance = 0.5
    assert baseline.compare(grows(1_400_000)).passed
    assert baseline.compare(grows(50_000)).known == ()  # under its limit: nothing to excuse, no note


def test_growth_over_the_limit_without_a_recorded_figure_is_a_regression(tmp_path: Path) -> None:
    _, baseline = recorded(tmp_path)
    verdict = baseline.compare(
        findings("tests/test_view.py::test_clean", memory={"per_iteration": 300_000, "limit": 100_000})
    )
    assert verdict.regressions == (
        "memory growth: 300,000 bytes per repetition over the limit 100,000 is not in the baseline",
    )
    assert baseline.compare(
        findings("tests/test_view.py::test_clean", memory={"per_iteration": 90_000, "limit": 100_000})
    ).passed


def test_load_applies_the_configured_tolerance(tmp_path: Path) -> None:
    path, _ = recorded(tmp_path)
    loose = load_baseline(path, tolerance=0.25)
    assert loose is not None and loose.tolerance == 0.25
    verdict = loose.compare(
        findings("tests/test_mem.py::test_grows", memory={"per_iteration": 1_200_000, "limit": 100_000})
    )
    assert verdict.passed


# --- updating ------------------------------------------------------------------------------------
def test_update_keeps_tests_that_did_not_run_and_drops_tests_that_ran_clean(tmp_path: Path) -> None:
    path, old = recorded(tmp_path)
    # A `-k view` run: test_upload now leaks 2 textures and no buffer; test_img / test_mem did not run.
    run: list[Any] = [
        findings("tests/test_view.py::test_upload", *textures(2)),
        findings("tests/test_view.py::test_clean"),
    ]
    ran = ["tests/test_view.py::test_upload", "tests/test_view.py::test_clean"]
    new, changes = updated_baseline(old, run, ran, LLVMPIPE)
    assert sorted(new.entries) == [
        "tests/test_img.py::test_cache",
        "tests/test_mem.py::test_grows",
        "tests/test_view.py::test_upload",
    ]
    assert new.entries["tests/test_img.py::test_cache"] == old.entries["tests/test_img.py::test_cache"]
    assert changes == [
        "changed tests/test_view.py::test_upload: - 1 buffer at viewer/render.py:120 in make_vbo() (fixed)",
        "changed tests/test_view.py::test_upload: texture at viewer/render.py:88 in upload() 3 -> 2",
        "kept 2 entries of tests that did not run",
    ]
    # Now the upload leak is fixed and the growth test runs clean: both entries go.
    ran = ["tests/test_view.py::test_upload", "tests/test_mem.py::test_grows"]
    fixed, changes = updated_baseline(new, [findings("tests/test_view.py::test_upload")], ran, LLVMPIPE)
    assert sorted(fixed.entries) == ["tests/test_img.py::test_cache"]
    assert changes == [
        "removed tests/test_mem.py::test_grows (ran clean)",
        "removed tests/test_view.py::test_upload (ran clean)",
        "kept 1 entry of tests that did not run",
    ]
    write_baseline(path, fixed)
    reloaded = load_baseline(path)
    assert reloaded is not None and reloaded.entries == fixed.entries


def test_update_with_nothing_new_changes_nothing(tmp_path: Path) -> None:
    path, old = recorded(tmp_path)
    before = path.read_bytes()
    run: list[Any] = [findings("tests/test_view.py::test_upload", *textures(3), gl_leak("buffer", VBO))]
    new, changes = updated_baseline(old, run, ["tests/test_view.py::test_upload"], LLVMPIPE)
    assert changes == ["kept 2 entries of tests that did not run"]
    write_baseline(path, new)
    assert path.read_bytes() == before


def test_update_records_the_new_environment(tmp_path: Path) -> None:
    _, old = recorded(tmp_path)
    other = dict(LLVMPIPE, renderer="NVIDIA H100/PCIe/SSE2", extra_key="not recorded")
    new, _ = updated_baseline(old, [], [], other)
    assert new.environment["renderer"] == "NVIDIA H100/PCIe/SSE2" and "extra_key" not in new.environment


# --- errors and warnings -------------------------------------------------------------------------
CORRUPT = {
    "not JSON": (b'{"format": "pytest-glleak-baseline",', "is not valid JSON"),
    "empty": (b"", "is not valid JSON"),
    "not UTF-8": (b'{"x": "\xff\xfe"}', "is not UTF-8 text"),
    "a list": (b"[]", "the top level is not a JSON object"),
    "another format": (b'{"format": "pytest-benchmark", "format_version": 1, "tests": {}}', "'format' is"),
    "newer version": (
        b'{"format": "pytest-glleak-baseline", "format_version": 7, "tests": {}}',
        "written by a newer pytest-glleak",
    ),
    "negative count": (
        b'{"format": "pytest-glleak-baseline", "format_version": 1, "tests": {"t::a": '
        b'{"leaks": [{"kind": "texture", "site": "a.py:1 in f", "count": -2}]}}}',
        "tests['t::a'].leaks[0].count must be a positive integer, not -2",
    ),
    "bad memory": (
        b'{"format": "pytest-glleak-baseline", "format_version": 1, "tests": {"t::a": '
        b'{"leaks": [], "memory": {"per_iteration": "1 MB"}}}}',
        "memory.per_iteration must be",
    ),
    "unknown key": (
        b'{"format": "pytest-glleak-baseline", "format_version": 1, "tests": {"t::a": {"leak": []}}}',
        "unknown keys: leak",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_a_corrupt_file_is_a_usage_error_and_is_left_untouched(tmp_path: Path, case: str) -> None:
    content, problem = CORRUPT[case]
    path = tmp_path / "glleak-baseline.json"
    path.write_bytes(content)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    with pytest.raises(BaselineError) as caught:
        load_baseline(path)
    message = str(caught.value)
    assert str(path) in message and problem in message
    assert "--glleak-baseline-update" in message
    assert path.read_bytes() == content
    assert path.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert os.listdir(tmp_path) == ["glleak-baseline.json"]


def test_an_unreadable_path_is_a_usage_error(tmp_path: Path) -> None:
    directory = tmp_path / "baseline.json"
    directory.mkdir()
    with pytest.raises(BaselineError, match="cannot be read"):
        load_baseline(directory)
    assert directory.is_dir() and list(directory.iterdir()) == []


def test_renderer_mismatch_warning(tmp_path: Path) -> None:
    path, baseline = recorded(tmp_path)
    assert environment_mismatch(baseline, LLVMPIPE) is None
    warning = environment_mismatch(baseline, dict(LLVMPIPE, renderer="NVIDIA H100/PCIe/SSE2"))
    assert warning is not None
    assert str(path) in warning and "llvmpipe (LLVM 15.0.6, 256 bits)" in warning and "NVIDIA H100" in warning
    assert environment_mismatch(baseline, {"python": "3.11"}) is None  # no GL context: nothing to compare
    assert environment_mismatch(Baseline(), LLVMPIPE) is None  # recorded without a renderer


def test_entries_round_trip_through_the_file(tmp_path: Path) -> None:
    baseline = Baseline(
        entries={
            "t.py::a": BaselineEntry(
                leaks=(KnownLeak("texture", "a.py:1 in f", 2),), memory={"per_iteration": 5}
            )
        },
        environment={"renderer": "x"},
    )
    path = tmp_path / "b.json"
    write_baseline(path, baseline)
    loaded = load_baseline(path)
    assert loaded is not None
    assert loaded.entries == baseline.entries and loaded.environment == {"renderer": "x"}
    assert loaded.path == str(path)


# --- portable creation sites ---------------------------------------------------------------------
def test_sites_are_recorded_relative_to_the_root_so_another_checkout_matches(tmp_path: Path) -> None:
    laptop, ci = tmp_path / "home" / "me" / "proj", tmp_path / "builds" / "proj"

    def leak_in(checkout: Path) -> Any:
        return findings(
            "tests/test_view.py::test_upload",
            gl_leak("texture", (str(checkout / "viewer" / "render.py"), 88, "upload")),
        )

    ran = ["tests/test_view.py::test_upload"]
    recorded_here, _ = updated_baseline(None, [leak_in(laptop)], ran, LLVMPIPE, root=str(laptop))
    assert recorded_here.entries["tests/test_view.py::test_upload"].leaks == (
        KnownLeak("texture", "viewer/render.py:88 in upload", 1),
    )
    path = tmp_path / "baseline.json"
    write_baseline(path, recorded_here)
    on_ci = load_baseline(path, root=str(ci))
    assert on_ci is not None and on_ci.compare(leak_in(ci)).passed


def test_portable_path() -> None:
    from pytest_glleak.sites import portable_path

    assert portable_path("/work/proj/viewer/render.py", "/work/proj") == "viewer/render.py"
    assert portable_path("/opt/venv/lib/python3.11/site-packages/vispy/gloo/texture.py", "/work/proj") == (
        "vispy/gloo/texture.py"
    )
    assert portable_path("/usr/lib/python3/dist-packages/OpenGL/GL/x.py", "/work/proj") == "OpenGL/GL/x.py"
    assert portable_path("/elsewhere/tool.py", "/work/proj") == "/elsewhere/tool.py"
    assert portable_path("viewer/render.py", "/work/proj") == "viewer/render.py"


def grown_at(amount: int, line: int = 40, gl_bytes: int = 65536) -> dict[str, Any]:
    """A diagnosed growth: a NumPy cache at viewer/cache.py:<line> and a texture per repetition."""
    site = {"file": "viewer/cache.py", "line": line, "function": "load"}
    return {
        "per_iteration": amount + gl_bytes,
        "limit": 100_000,
        "grew_at": [{**site, "bytes_per_iteration": amount, "blocks": 1, "domain": "numpy", "stack": [site]}],
        "gl_per_iteration": [
            {"kind": "texture", "count": 1, "bytes": gl_bytes, "create_site": [dict(site, line=60)]}
        ],
    }


def test_growth_is_recorded_and_matched_by_where_it_grows(tmp_path: Path) -> None:
    nodeid = "tests/test_mem.py::test_cache"
    baseline, changes = updated_baseline(
        None, [findings(nodeid, memory=grown_at(1_000_000))], [nodeid], LLVMPIPE
    )
    assert changes == [
        f"added {nodeid}: memory per_iteration 1,065,536, numpy growth 1,000,000 at viewer/cache.py:40 in load(), "
        "texture growth 65,536 at viewer/cache.py:60 in load()"
    ]
    path = tmp_path / "glleak-baseline.json"
    write_baseline(path, baseline)
    assert json.loads(path.read_text())["tests"][nodeid]["grew_at"] == [
        {"what": "numpy", "site": "viewer/cache.py:40 in load", "bytes_per_iteration": 1_000_000},
        {"what": "texture", "site": "viewer/cache.py:60 in load", "bytes_per_iteration": 65536},
    ]
    loaded = load_baseline(path)
    assert loaded is not None

    same = loaded.compare(findings(nodeid, memory=grown_at(1_050_000)))
    assert same.passed
    assert (
        "numpy growth at viewer/cache.py:40 in load(): 1,050,000 bytes per repetition: known growth site "
        "(baseline allows 1,000,000)"
    ) in same.known
    moved = loaded.compare(findings(nodeid, memory=grown_at(1_000_000, line=44)))
    assert moved.passed and any("the line moved" in note for note in moved.known)
    # The same total, but growing somewhere else: a regression, named by its site.
    elsewhere = grown_at(1_000_000)
    elsewhere["grew_at"][0].update(
        file="viewer/other.py", stack=[{"file": "viewer/other.py", "line": 40, "function": "load"}]
    )
    verdict = loaded.compare(findings(nodeid, memory=elsewhere))
    assert verdict.regressions == (
        "memory grew at a new site: numpy growth at viewer/other.py:40 in load(): 1,000,000 bytes per "
        "repetition (not a known growth site of this test)",
    )
    more = loaded.compare(findings(nodeid, memory=grown_at(1_000_000, gl_bytes=4 * 65536)))
    assert any(
        r.startswith("texture growth at viewer/cache.py:60 in load(): 262,144") for r in more.regressions
    )
