"""The HTML report: well-formed, self-contained, charted, complete, escaped."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pytest_glleak.report.atomic import write_text_atomic
from pytest_glleak.report.html import render_chart, render_html
from pytest_glleak.report.json_report import build_json
from pytest_glleak.report.run import RunReport

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}
SVG_SELF_CLOSING = {"rect", "line", "polyline", "circle", "path"}


class Page(HTMLParser):
    """Checks nesting, and collects tags, attributes, text and ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        self.ids.update(value for name, value in attrs if name == "id" and value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert parser.problems == []
    assert parser.stack == []
    return parser


def sample_doc(partial: bool = False) -> dict[str, Any]:
    from test_report import sample_run  # the hand-built run shared with the JSON tests

    return build_json(sample_run(partial=partial))


def words(page: Page) -> str:
    return " ".join(" ".join(page.text).split())


def test_page_parses_and_contains_chart_tables_and_every_leaked_test() -> None:
    doc = sample_doc()
    page = parse(render_html(doc))
    assert page.tags[0] == "html" and "svg" in page.tags
    assert page.tags.count("rect") > 5 and "polyline" in page.tags
    assert {"worst", "chart", "tests", "sites", "details"} <= page.ids
    text = words(page)
    for test in doc["tests"]:
        assert test["nodeid"] in text  # every test is in the table, leaked ones in details too
    for test in doc["tests"]:
        if test["verdict"] in ("leaked", "grew", "known") or test["outcome"] == "crashed":
            assert text.count(test["nodeid"]) >= 3, test["nodeid"]  # worst list, table, details
    assert "5 textures leaked, all created at viewer/render.py:88 in upload(), by 2 tests" in text
    assert "held by dict in module viewer.cache" in text


def test_page_is_self_contained() -> None:
    page = render_html(sample_doc(partial=True))
    for forbidden in ("http://", "https://", "src=", "<script", "<link", "@import", "url("):
        assert forbidden not in page
    hrefs = [value for name, value in parse(page).attributes if name == "href"]
    assert hrefs and all(value and value.startswith("#") for value in hrefs)


def test_internal_links_point_at_existing_anchors() -> None:
    page = parse(render_html(sample_doc()))
    targets = {value[1:] for name, value in page.attributes if name == "href" and value}
    assert targets and targets <= page.ids


def test_partial_and_crashed_runs_are_stated() -> None:
    text = words(parse(render_html(sample_doc(partial=True))))
    assert "Partial run: interrupted" in text
    assert "Worker crashed while running tests/test_crash.py::test_segfault" in text
    assert "Partial run" not in render_html(sample_doc())


def test_everything_from_the_document_is_escaped() -> None:
    hostile = '<script>alert("x")</script>&'
    run = RunReport({"renderer": hostile, "python": "3", "platform": hostile})
    run.add(
        {
            "nodeid": f"tests/test_x.py::test_it[{hostile}]",
            "checks": ["gl"],
            "verdict": "leaked",
            "message": hostile,
            "gl": {
                "created": {"texture": 1},
                "deleted": {},
                "leaked": [
                    {
                        "kind": "texture",
                        "name": 3,
                        "label": hostile,
                        "bytes": 16,
                        "context": 1,
                        "phase": "call",
                        "reserved_only": False,
                        "create_site": [{"file": hostile, "line": 1, "function": hostile}],
                    }
                ],
            },
        },
        "leaked",
    )
    rendered = render_html(build_json(run))
    assert "<script" not in rendered
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in rendered
    parse(rendered)


def test_empty_run_renders() -> None:
    page = parse(render_html(build_json(RunReport({"python": "3", "platform": "Linux"}))))
    text = words(page)
    assert (
        "no tests were recorded" in text and "none: no test leaked" in text and "none: no test grew" in text
    )


def test_chart_bars_follow_the_run_sequence() -> None:
    sequence = [
        {"nodeid": "a", "gl_leaked": 0, "images_leaked": 0},
        {"nodeid": "b", "gl_leaked": 4, "images_leaked": 1, "rss": 2048},
        {"nodeid": "c", "gl_leaked": 0, "images_leaked": 0, "rss": 4096},
    ]
    svg = render_chart(sequence, width=400)
    bars = re.findall(r'<rect x="([\d.]+)"[^>]*><title>([^<]*)</title>', svg)
    leak_bars = [(float(x), title) for x, title in bars if "GL objects" in title]
    assert [title for _, title in leak_bars] == ["b: 4 GL objects, 1 image buffer"] * 2  # GL + image part
    memory_bars = [(float(x), title) for x, title in bars if "GL objects" not in title]
    assert [title for _, title in memory_bars] == ["b: +2.0 KiB", "c: +4.0 KiB"]
    assert memory_bars[0][0] < memory_bars[1][0]  # c comes after b


def test_chart_draws_one_rss_line_per_worker() -> None:
    sequence = [
        {
            "nodeid": f"t{i}",
            "gl_leaked": 0,
            "images_leaked": 0,
            "process_rss": 100_000 + i * 1000,
            "worker": f"gw{i % 2}",
        }
        for i in range(6)
    ]
    svg = render_chart(sequence)
    assert re.findall(r"<polyline[^>]*><title>(gw\d)</title>", svg) == ["gw0", "gw1"]
    assert "process RSS above 97.7 KiB" in svg


def test_the_rendered_page_is_written_atomically(tmp_path: Path) -> None:
    doc = sample_doc()
    target = tmp_path / "glleak.html"
    write_text_atomic(target, render_html(doc))
    assert target.read_text(encoding="utf-8") == render_html(doc)
    assert os.listdir(tmp_path) == ["glleak.html"]


def test_details_show_where_memory_grew() -> None:
    doc = sample_doc()
    test = next(entry for entry in doc["tests"] if entry["verdict"] in ("leaked", "grew"))
    site = {"file": "viewer.py", "line": 12, "function": "load"}
    test["memory"] = {
        "per_iteration": 4 << 20,
        "limit": 1 << 18,
        "grew_at": [
            {**site, "bytes_per_iteration": 3 << 20, "blocks": 1, "domain": "numpy", "stack": [site]},
        ],
        "gl_per_iteration": [{"kind": "texture", "count": 1, "bytes": 65536, "create_site": [site]}],
        "images_per_iteration": [
            {"kind": "pil_image", "count": 1, "bytes": 1024, "create_site": [site], "held_by": "list <CACHE>"}
        ],
        "explained_per_iteration": 3 << 20,
        "measured_per_iteration": 4 << 20,
        "measured_by": "rss",
    }
    text = words(parse(render_html(doc)))
    assert "Where it grew, per repetition" in text
    assert "numpy 1 block +3.0 MiB viewer.py:12 in load()" in text
    assert "gl +1 texture +64.0 KiB GPU viewer.py:12 in load()" in text
    assert "image +1 pil_image; held by list <CACHE> +1.0 KiB" in text
    assert (
        "RSS grew 4.0 MiB per repetition: 3.0 MiB in Python/NumPy allocations, 1.0 KiB in images and "
        "64.0 KiB in GL objects listed above; the rest is native (a C extension, the GL driver)."
    ) in text


def _run_of(findings: list[dict[str, Any]]) -> RunReport:
    run = RunReport({"python": "3", "platform": "Linux"})
    for entry in findings:
        run.add(entry, "leaked" if entry.get("verdict") in ("leaked", "grew") else "passed")  # type: ignore[arg-type]
    return run


def _leak(nodeid: str) -> dict[str, Any]:
    frame = {"file": "app/render.py", "line": 11, "function": "upload"}
    item = {
        "kind": "texture",
        "name": 1,
        "label": None,
        "bytes": 1024,
        "context": 1,
        "phase": "call",
        "reserved_only": False,
        "create_site": [frame],
    }
    return {
        "nodeid": nodeid,
        "checks": ["gl"],
        "verdict": "leaked",
        "message": "leaked 1 texture",
        "gl": {"created": {"texture": 1}, "deleted": {}, "leaked": [item]},
    }


def _clean(nodeid: str) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "checks": ["gl"],
        "verdict": "clean",
        "gl": {"created": {}, "deleted": {}, "leaked": []},
    }


def _grew(nodeid: str) -> dict[str, Any]:
    return {
        "nodeid": nodeid,
        "checks": ["memory"],
        "verdict": "grew",
        "message": "memory grew 1.0 MiB per repetition",
        "memory": {"per_iteration": 1_052_752, "limit": 262_144, "iterations": []},
    }


def test_rows_sort_naturally_and_growth_is_a_worst_offender_in_human_units() -> None:
    run = _run_of(
        [
            *(_clean(f"t.py::test_p[{i}]") for i in range(12)),
            *(_leak(f"t.py::test_l[{i}]") for i in range(6)),
            _grew("t.py::test_grows"),
        ]
    )
    run.created, run.duration_s, run.pytest_version = "2026-11-30T06:15:19Z", 12.5, "9.2.0"
    page_text = render_html(build_json(run))
    text = words(parse(page_text))
    order = re.findall(r"t\.py::test_p\[(\d+)\]", page_text.split('id="tests"')[1])
    assert order == [str(i) for i in range(12)]  # [0], [1], ..., [10], [11]: not [0], [10], [11], [1]
    worst = page_text.split('id="worst"')[1].split("</section>")[0]
    assert "Growing tests" in worst and "t.py::test_grows" in worst and "+1.0 MiB/repetition" in worst
    assert "1,052,752" not in page_text and "262,144" not in page_text
    assert "growth per repetition +1.0 MiB, limit 256.0 KiB" in text
    assert "created 2026-11-30T06:15:19Z · pytest-glleak" in text and "pytest 9.2.0 · 12.5 s" in text


def test_clean_rows_can_be_hidden_without_scripts() -> None:
    page_text = render_html(build_json(_run_of([_clean("t.py::test_a"), _leak("t.py::test_b")])))
    page = parse(page_text)
    assert "script" not in page.tags
    assert ("id", "hide-clean") in page.attributes and ("type", "checkbox") in page.attributes
    assert "#hide-clean:checked ~ .scroll tr.clean{display:none}" in page_text
    # The checkbox and the table are siblings, the checkbox first, as the ~ selector needs.
    section = page_text.split('<section id="tests">')[1].split("</section>")[0]
    assert section.index('id="hide-clean"') < section.index('<div class="scroll"><table>')
    assert '<tr class="clean">' in section and "hide the 1 clean test" in words(page)


def test_the_chart_scales_and_has_no_memory_panel_without_memory_data() -> None:
    leaks_only = [{"nodeid": "a", "gl_leaked": 1, "images_leaked": 0}]
    svg = render_chart(leaks_only)
    assert 'class="chart-svg"' in svg and 'viewBox="0 0 800 ' in svg and "width=" not in svg.split(">")[0]
    assert "memory" not in svg and "RSS" not in svg
    with_rss = render_chart([{**leaks_only[0], "process_rss": 50_000_000}])
    assert "process RSS above" in with_rss
    assert ".chart-svg{display:block;width:100%;height:auto" in render_html(build_json(_run_of([_leak("a")])))
