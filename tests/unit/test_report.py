"""The run report: terminal section, JSON document (schema, determinism), JUnit properties.

Pure formatting over findings dicts, so the findings here are built by hand in the shapes of
``pytest_glleak.findings``; the plugin-level runs live in the pytester tests.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from pytest_glleak.report.json_report import build_json, dumps, write_json
from pytest_glleak.report.junit import junit_properties
from pytest_glleak.report.run import RunReport
from pytest_glleak.report.sites import creation_sites
from pytest_glleak.report.terminal import terminal_lines
from pytest_glleak.report.text import format_bytes, kind_phrase

SCHEMA = json.loads((Path(__file__).parents[1] / "glleak_report.schema.json").read_text())
UPLOAD = ("viewer/render.py", 88, "upload")
VBO = ("viewer/render.py", 120, "make_vbo")
LOADER = ("viewer/images.py", 14, "load_thumbnail")


def frames(*sites: tuple[str, int, str]) -> list[dict[str, Any]]:
    return [{"file": file, "line": line, "function": function} for file, line, function in sites]


def gl_object(
    kind: str, site: tuple[str, int, str], name: int, size: int = 0, **extra: Any
) -> dict[str, Any]:
    leaked = {
        "kind": kind,
        "name": name,
        "label": None,
        "bytes": size,
        "context": 1,
        "phase": "call",
        "reserved_only": False,
        "create_site": frames(site, ("tests/test_view.py", 10, "test_x")),
    }
    leaked.update(extra)
    return leaked


def gl_findings(nodeid: str, leaked: list[dict[str, Any]], verdict: str) -> Any:
    created: dict[str, int] = {}
    for item in leaked:
        created[item["kind"]] = created.get(item["kind"], 0) + 1
    return {
        "nodeid": nodeid,
        "checks": ["gl"],
        "verdict": verdict,
        "gl": {"created": created, "deleted": {}, "leaked": leaked},
    }


def sample_run(partial: bool = False) -> RunReport:
    """Six tests: GL leaks at a shared site, a clean one, image leaks, growth, a known leak, a crash."""
    run = RunReport(
        {
            "backend": "egl",
            "vendor": "Mesa",
            "renderer": "llvmpipe (LLVM 15.0.6, 256 bits)",
            "gl_version": "4.5 (Core Profile) Mesa 23.0",
            "python": "3.11.2",
            "platform": "Linux",
        }
    )
    run.add(
        gl_findings(
            "tests/test_view.py::test_upload_leaks",
            [
                gl_object("texture", UPLOAD, 1, 262144),
                gl_object("texture", UPLOAD, 2, 262144),
                gl_object("texture", UPLOAD, 3, 262144),
                gl_object("buffer", VBO, 1, 4096, reserved_only=True),
            ],
            "leaked",
        )
        | {"message": "leaked 3 textures, 1 buffer"},
        "leaked",
        process_rss=100_000_000,
    )
    clean = gl_findings("tests/test_view.py::test_clean", [], "clean")
    clean["gl"]["created"] = {"texture": 2}
    clean["gl"]["deleted"] = {"texture": 2}
    run.add(clean, "passed", process_rss=100_500_000)
    cache: Any = {
        "nodeid": "tests/test_images.py::test_cache",
        "checks": ["images"],
        "verdict": "leaked",
        "images": {
            "leaked": [
                {
                    "kind": "pil_image",
                    "mode": "RGBA",
                    "shape": [512, 512],
                    "bytes": 1048576,
                    "create_site": frames(LOADER),
                    "held_by": "dict in module viewer.cache",
                },
                {
                    "kind": "ndarray",
                    "dtype": "uint8",
                    "shape": [512, 512, 4],
                    "bytes": 1048576,
                    "create_site": frames(LOADER),
                },
                {"kind": "pillow_blocks", "count": 2, "bytes": 0, "create_site": []},
            ]
        },
    }
    run.add(cache, "leaked", process_rss=103_000_000)
    growth: Any = {
        "nodeid": "tests/test_mem.py::test_growth",
        "checks": ["memory"],
        "verdict": "grew",
        "memory": {
            "per_iteration": 1048576,
            "limit": 262144,
            "heap": 1048000,
            "iterations": [{"rss": 1048576, "heap": 1048000}, {"rss": 1048576, "heap": 1048000}],
        },
        "message": "memory grew 1,048,576 bytes per repetition",
    }
    run.add(growth, "failed", process_rss=110_000_000)
    run.add(
        gl_findings(
            "tests/test_view.py::test_other_upload",
            [gl_object("texture", UPLOAD, 4, 262144), gl_object("texture", UPLOAD, 5, 262144)],
            "leaked",
        ),
        "leaked",
        process_rss=110_600_000,
    )
    known = gl_findings(
        "tests/test_legacy.py::test_legacy_fbo", [gl_object("framebuffer", UPLOAD, 7)], "known"
    )
    known["known"] = [
        "1 framebuffer created at viewer/render.py:88 in upload(): known leak (baseline allows 1)"
    ]
    run.add(known, "known", process_rss=110_700_000)
    run.mark_crashed("tests/test_crash.py::test_segfault", worker="gw1")
    run.partial = partial
    return run


# --- terminal -------------------------------------------------------------------------------------
def test_terminal_rows_only_for_tests_that_leaked_grew_or_crashed() -> None:
    lines = terminal_lines(sample_run())
    text = "\n".join(lines)
    for nodeid in (
        "test_upload_leaks",
        "test_cache",
        "test_growth",
        "test_other_upload",
        "test_legacy_fbo",
        "test_segfault",
    ):
        assert nodeid in text
    assert "test_clean" not in text
    assert lines[0] == "6 tests checked: 3 leaked, 1 grew, 1 within the baseline, 1 clean; 1 crashed"
    assert "GL: 3 textures, 1 buffer (1 reserved, never bound)" in text
    assert "images: 1 Pillow image, 1 NumPy array, 2 Pillow blocks" in text
    assert "memory: +1.0 MiB per repetition (limit 256.0 KiB)" in text
    assert "worker crashed on gw1 while running this test; no findings" in text
    assert "known: 1 framebuffer created at viewer/render.py:88 in upload()" in text


def test_terminal_top_site_sentence_counts_objects_and_tests() -> None:
    text = "\n".join(terminal_lines(sample_run()))
    assert (
        "5 textures leaked, all created at viewer/render.py:88 in upload(), by 2 tests (1.2 MiB estimated)"
    ) in text
    assert "1 Pillow image leaked, all created at viewer/images.py:14 in load_thumbnail(), by 1 test" in text


def test_terminal_totals_row() -> None:
    lines = terminal_lines(sample_run())
    total = [line for line in lines if line.startswith("total")]
    assert len(total) == 1
    # 4 + 2 + 1 GL objects; 4 image buffers counting the 2 Pillow blocks; GPU bytes 5 * 256 KiB + 4 KiB.
    assert total[0].split() == ["total", "7", *format_bytes(5 * 262144 + 4096).split(), "4", "2.0", "MiB"]
    header = lines[lines.index("status   test") + 1]
    assert header.index("GL objects") + len("GL objects") == total[0].index("7") + 1  # columns line up


def test_terminal_verbose_lists_every_checked_test() -> None:
    quiet = terminal_lines(sample_run(), verbose=False)
    verbose = terminal_lines(sample_run(), verbose=True)
    assert "clean    tests/test_view.py::test_clean" in verbose
    assert len(verbose) == len(quiet) + 1  # a clean test has no figures or details


def test_terminal_fits_100_columns_and_never_shortens_node_ids() -> None:
    run = sample_run()
    long_id = "tests/test_a_rather_long_module_name.py::TestSomeClass::test_with_parameters[param-a-b-c-d]"
    run.add(gl_findings(long_id, [gl_object("texture", UPLOAD, 9, 262144)], "leaked"), "leaked")
    lines = terminal_lines(run, verbose=True)
    assert [line for line in lines if len(line) > 100] == []
    row = lines.index(f"{'LEAKED':<8} {long_id}")
    assert lines[row + 1].split()[:2] == ["1", "256.0"]  # its figures follow, indented


def test_terminal_states_partial_run() -> None:
    lines = terminal_lines(sample_run(partial=True))
    assert lines[0].startswith("PARTIAL RUN: interrupted")
    assert "PARTIAL" not in "\n".join(terminal_lines(sample_run()))


def test_terminal_with_nothing_checked() -> None:
    lines = terminal_lines(RunReport())
    assert lines == ["0 tests checked: 0 leaked, 0 grew, 0 within the baseline, 0 clean"]


# --- RunReport ------------------------------------------------------------------------------------
def test_run_report_rejects_unknown_outcome_and_missing_nodeid() -> None:
    run = RunReport()
    with pytest.raises(ValueError, match="unknown outcome 'exploded'"):
        run.add(gl_findings("t.py::a", [], "clean"), "exploded")
    with pytest.raises(ValueError, match="without a nodeid"):
        run.add({"checks": ["gl"]}, "passed")


def test_run_report_rerun_replaces_the_earlier_record() -> None:
    run = RunReport()
    run.add(gl_findings("t.py::a", [gl_object("texture", UPLOAD, 1)], "leaked"), "leaked")
    run.add(gl_findings("t.py::b", [], "clean"), "passed")
    run.add(gl_findings("t.py::a", [], "clean"), "passed")
    records = [(record.findings["nodeid"], record.outcome) for record in run.records]
    assert records == [("t.py::a", "passed"), ("t.py::b", "passed")]


# --- JSON -----------------------------------------------------------------------------------------
def test_json_validates_against_the_schema() -> None:
    doc = build_json(sample_run(partial=True))
    jsonschema.validate(doc, SCHEMA)
    jsonschema.validate(build_json(RunReport({"python": "3.11", "platform": "Linux"})), SCHEMA)


@pytest.mark.parametrize(
    "path",
    [
        ("summary",),
        ("summary", "tests_leaked"),
        ("environment", "platform"),
        ("tests", 0, "gl"),
        ("tests", 0, "outcome"),
        ("tests", 6, "gl", "leaked", 0, "create_site"),
        ("tests", 6, "gl", "leaked", 0, "create_site", 0, "line"),
        ("tests", 1, "images", "leaked", 0, "bytes"),
        ("sites", 0, "tests"),
    ],
)
def test_schema_rejects_a_missing_key(path: tuple[Any, ...]) -> None:
    doc = copy.deepcopy(build_json(sample_run()))
    # tests sorted: 0 test_crash, 1 test_cache, ..., 6 test_upload_leaks
    assert doc["tests"][6]["nodeid"].endswith("test_upload_leaks") and doc["tests"][1]["images"]
    parent: Any = doc
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_schema_rejects_wrong_types_and_unknown_kinds() -> None:
    doc = build_json(sample_run())
    bad_kind = copy.deepcopy(doc)
    bad_kind["tests"][6]["gl"]["leaked"][0]["kind"] = "textures"
    bad_bytes = copy.deepcopy(doc)
    bad_bytes["summary"]["gpu_bytes_leaked"] = "1 MiB"
    extra = copy.deepcopy(doc)
    extra["tests"][0]["surprise"] = 1
    for broken in (bad_kind, bad_bytes, extra):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_json_summary_figures() -> None:
    summary = build_json(sample_run(partial=True))["summary"]
    assert summary["tests_run"] == 7
    assert summary["tests_checked"] == 6
    verdicts = [summary[f"tests_{verdict}"] for verdict in ("leaked", "grew", "known", "clean")]
    assert verdicts == [3, 1, 1, 1]
    assert summary["leaked_gl_objects"] == 7
    assert summary["leaked_gl_by_kind"] == {"texture": 5, "buffer": 1, "framebuffer": 1}
    assert list(summary["leaked_gl_by_kind"]) == ["texture", "buffer", "framebuffer"]  # GL_KINDS order
    assert summary["gpu_bytes_leaked"] == 5 * 262144 + 4096
    assert summary["leaked_image_buffers"] == 4
    assert summary["image_bytes_leaked"] == 2 * 1048576
    assert summary["partial"] is True
    assert summary["crashed"] == ["tests/test_crash.py::test_segfault"]
    top = summary["top_sites"][0]
    assert (top["kind"], top["file"], top["line"], top["function"], top["count"], top["tests"]) == (
        "texture",
        "viewer/render.py",
        88,
        "upload",
        5,
        2,
    )
    assert top["nodeids"] == [
        "tests/test_view.py::test_other_upload",
        "tests/test_view.py::test_upload_leaks",
    ]


def test_json_test_entries_carry_every_section() -> None:
    tests = {entry["nodeid"]: entry for entry in build_json(sample_run())["tests"]}
    upload = tests["tests/test_view.py::test_upload_leaks"]
    assert upload["outcome"] == "leaked" and upload["checks"] == ["gl"]
    assert upload["gl"]["created"] == {"texture": 3, "buffer": 1}
    assert upload["gl"]["leaked"][0]["create_site"][0] == {
        "file": "viewer/render.py",
        "line": 88,
        "function": "upload",
    }
    assert upload["images"] is None and upload["memory"] is None  # not checked, not "clean"
    cache = tests["tests/test_images.py::test_cache"]
    assert cache["images"]["leaked"][0]["held_by"] == "dict in module viewer.cache"
    assert cache["images"]["leaked"][1]["shape"] == [512, 512, 4]
    assert tests["tests/test_mem.py::test_growth"]["memory"]["per_iteration"] == 1048576
    crashed = tests["tests/test_crash.py::test_segfault"]
    assert crashed["outcome"] == "crashed" and crashed["checks"] == [] and crashed["gl"] is None


def test_json_tests_are_sorted_and_byte_identical_whatever_the_finishing_order() -> None:
    plain = sample_run()
    shuffled = RunReport(plain.environment)
    for record in reversed(plain.records):  # as if two workers finished in another order
        shuffled.add(copy.deepcopy(record.findings), record.outcome, worker="gw0")
    first, second = build_json(plain), build_json(shuffled)
    assert [t["nodeid"] for t in first["tests"]] == sorted(t["nodeid"] for t in first["tests"])
    assert dumps({"tests": first["tests"]}).encode() == dumps({"tests": second["tests"]}).encode()
    # The finishing order survives in `sequence`, which the HTML chart uses.
    assert [p["nodeid"] for p in second["sequence"]] == [r.findings["nodeid"] for r in shuffled.records]
    unsorted = build_json(shuffled, sort_tests=False)
    assert [t["nodeid"] for t in unsorted["tests"]] == [r.findings["nodeid"] for r in shuffled.records]


def test_json_tests_do_not_depend_on_gl_names_or_listing_order() -> None:
    # The same test in another process: Mesa handed out other names, the ledger listed them differently.
    first, second = RunReport(), RunReport()
    first.add(
        gl_findings(
            "t.py::a",
            [
                gl_object("buffer", VBO, 1),
                gl_object("texture", UPLOAD, 2),
                gl_object("texture", UPLOAD, 3, label="atlas"),
            ],
            "leaked",
        ),
        "leaked",
    )
    second.add(
        gl_findings(
            "t.py::a",
            [
                gl_object("texture", UPLOAD, 41, label="atlas"),
                gl_object("texture", UPLOAD, 40),
                gl_object("buffer", VBO, 39),
            ],
            "leaked",
        ),
        "leaked",
    )
    assert dumps(build_json(first)["tests"]) == dumps(build_json(second)["tests"])
    leaked = build_json(first)["tests"][0]["gl"]["leaked"]
    assert [item["kind"] for item in leaked] == ["texture", "texture", "buffer"]  # GL_KINDS order
    assert all("name" not in item and "context" not in item for item in leaked)


def test_json_process_local_adds_names_and_contexts() -> None:
    doc = build_json(sample_run(), process_local=True)
    jsonschema.validate(doc, SCHEMA)
    upload = next(test for test in doc["tests"] if test["nodeid"].endswith("test_upload_leaks"))
    assert sorted(item["name"] for item in upload["gl"]["leaked"]) == [1, 1, 2, 3]
    assert {item["context"] for item in upload["gl"]["leaked"]} == {1}


def test_json_sequence_keeps_run_order_and_samples() -> None:
    sequence = build_json(sample_run())["sequence"]
    assert [point["nodeid"].rsplit("::", 1)[1] for point in sequence] == [
        "test_upload_leaks",
        "test_clean",
        "test_cache",
        "test_growth",
        "test_other_upload",
        "test_legacy_fbo",
        "test_segfault",
    ]
    assert sequence[0] == {
        "nodeid": "tests/test_view.py::test_upload_leaks",
        "gl_leaked": 4,
        "images_leaked": 0,
        "process_rss": 100_000_000,
    }
    assert sequence[2]["images_leaked"] == 4
    assert sequence[3]["per_iteration"] == 1048576
    assert sequence[-1]["worker"] == "gw1"


def test_write_json_round_trips_without_leaving_temporary_files(tmp_path: Path) -> None:
    doc = build_json(sample_run())
    target = tmp_path / "reports" / "glleak.json"  # the directory is created
    write_json(target, doc)
    assert json.loads(target.read_text()) == doc
    assert target.read_text() == dumps(doc)
    write_json(target, build_json(RunReport()))
    assert os.listdir(target.parent) == ["glleak.json"]


def test_creation_sites_group_by_kind_and_innermost_frame() -> None:
    sites = creation_sites(sample_run().records)
    keys = [(site["kind"], site["line"], site["count"]) for site in sites]
    assert keys[0] == ("texture", 88, 5)
    assert ("framebuffer", 88, 1) in keys  # same frame, another kind: its own site
    unknown = [site for site in sites if site["kind"] == "pillow_blocks"]
    assert unknown[0]["file"] == "<unknown>" and unknown[0]["count"] == 2


# --- JUnit ----------------------------------------------------------------------------------------
def test_junit_properties_for_gl_images_and_memory() -> None:
    records = {record.findings["nodeid"]: record.findings for record in sample_run().records}
    upload = dict(junit_properties(records["tests/test_view.py::test_upload_leaks"]))
    assert upload == {
        "glleak_verdict": "leaked",
        "glleak_checks": "gl",
        "glleak_gl_created": 4,
        "glleak_gl_deleted": 0,
        "glleak_gl_leaked": 4,
        "glleak_gl_leaked_bytes": 3 * 262144 + 4096,
        "glleak_gl_leaked_texture": 3,
        "glleak_gl_leaked_buffer": 1,
    }
    images = dict(junit_properties(records["tests/test_images.py::test_cache"]))
    assert images["glleak_images_leaked"] == 4 and images["glleak_images_leaked_bytes"] == 2097152
    growth = dict(junit_properties(records["tests/test_mem.py::test_growth"]))
    assert growth["glleak_growth_per_iteration"] == 1048576
    assert growth["glleak_growth_limit"] == 262144 and growth["glleak_heap_growth"] == 1048000
    known = dict(junit_properties(records["tests/test_legacy.py::test_legacy_fbo"]))
    assert known["glleak_known"] == 1 and known["glleak_verdict"] == "known"
    for name, value in junit_properties(records["tests/test_mem.py::test_growth"]):
        assert name.startswith("glleak_") and isinstance(value, (str, int, float))


def test_junit_properties_of_a_clean_test_say_so() -> None:
    clean = gl_findings("t.py::clean", [], "clean")
    assert dict(junit_properties(clean))["glleak_gl_leaked"] == 0
    assert junit_properties({"nodeid": "t.py::unchecked"}) == []


def test_formatting_helpers() -> None:
    assert kind_phrase("vertex_array", 1) == "1 vertex array"
    assert kind_phrase("query", 1200) == "1,200 queries"
    assert format_bytes(None) == "-"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1536, signed=True) == "+1.5 KiB"
    assert format_bytes(-3 * 1024**3) == "-3.0 GiB"
