"""The ``--glleak-html`` report: one self-contained HTML file rendered from the JSON document.

No scripts, no fonts, no network: inline CSS (``html.css``, package data) and an inline SVG chart
(:mod:`pytest_glleak.report.html_chart`). This module assembles the page. Every value from
the document is escaped. Input is the dict :func:`pytest_glleak.report.json_report.build_json` returns.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from pytest_glleak.findings import REPORTED_VERDICTS
from pytest_glleak.report.growth_text import explained_sentence
from pytest_glleak.report.html_chart import (
    CUMULATIVE_COLOR,
    GL_COLOR,
    IMAGE_COLOR,
    MEMORY_COLORS,
    has_memory,
    render_chart,
)
from pytest_glleak.report.html_chart import escape as _e
from pytest_glleak.report.run import leak_count
from pytest_glleak.report.sites import site_sentence, site_text
from pytest_glleak.report.text import count_phrase, format_bytes, kind_name, kind_phrase, kinds_text

WORST_SHOWN = 5
_NOTABLE = (*REPORTED_VERDICTS, "crashed")

__all__ = ["WORST_SHOWN", "natural_key", "render_chart", "render_html"]


def _gl_items(test: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((test.get("gl") or {}).get("leaked") or [])


def _image_items(test: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((test.get("images") or {}).get("leaked") or [])


def _bytes_of(items: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(item.get("bytes", 0) or 0) for item in items)


def _memory_growth(test: Mapping[str, Any]) -> int | None:
    memory = test.get("memory") or {}
    for figure in ("per_iteration", "rss"):
        if figure in memory:
            return int(memory[figure])
    return None


def _status(test: Mapping[str, Any]) -> str:
    if test.get("outcome") == "crashed":
        return "crashed"
    verdict = test.get("verdict")
    if verdict:
        return str(verdict)
    return str(test.get("outcome", ""))


@functools.cache
def _css() -> str:
    """The page's style sheet, shipped as package data next to this module (``html.css``)."""
    return "\n" + resources.files("pytest_glleak.report").joinpath("html.css").read_text(encoding="utf-8")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders numbers by value: ``test[2]`` before ``test[10]``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _sorted_tests(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return sorted(doc.get("tests") or [], key=lambda test: natural_key(str(test.get("nodeid", ""))))


def _anchor(index: int) -> str:
    return f"test-{index}"


# --- page -----------------------------------------------------------------------------------------
def _cards(summary: Mapping[str, Any]) -> str:
    def card(value: Any, caption: str, bad: bool = False) -> str:
        style = "card bad" if bad else "card ok" if value in (0, "0 B") else "card"
        return f'<div class="{style}"><b>{_e(value)}</b><span>{_e(caption)}</span></div>'

    leaked = int(summary.get("tests_leaked", 0)) + int(summary.get("tests_grew", 0))
    return (
        '<section class="cards">'
        + "".join(
            [
                card(summary.get("tests_checked", 0), "tests checked"),
                card(leaked, "tests leaked or grew", bad=leaked > 0),
                card(summary.get("tests_known", 0), "within the baseline"),
                card(
                    summary.get("leaked_gl_objects", 0),
                    "GL objects leaked",
                    bad=summary.get("leaked_gl_objects", 0) > 0,
                ),
                card(format_bytes(summary.get("gpu_bytes_leaked", 0)), "GPU bytes leaked (estimated)"),
                card(
                    summary.get("leaked_image_buffers", 0),
                    "image buffers leaked",
                    bad=summary.get("leaked_image_buffers", 0) > 0,
                ),
                card(format_bytes(summary.get("image_bytes_leaked", 0)), "image bytes leaked"),
                card(len(summary.get("crashed") or []), "crashed", bad=bool(summary.get("crashed"))),
            ]
        )
        + "</section>"
    )


def _severity(test: Mapping[str, Any]) -> tuple[int, int, int]:
    gl, images = _gl_items(test), _image_items(test)
    objects = len(gl) + sum(leak_count(item) for item in images)
    return objects, _bytes_of(gl) + _bytes_of(images), _memory_growth(test) or 0


def _worst(doc: Mapping[str, Any], anchors: Mapping[str, str]) -> str:
    notable = [test for test in _sorted_tests(doc) if _status(test) in _NOTABLE]
    # Leaks and growth are ranked apart: a test that grew leaks no object, so one list would bury it.
    leaking = [test for test in notable if _severity(test)[:2] != (0, 0) or _status(test) == "crashed"]
    leaking.sort(key=lambda test: (-_severity(test)[0], -_severity(test)[1]))
    growing = [test for test in notable if _status(test) == "grew" or (_memory_growth(test) or 0) > 0]
    growing.sort(key=lambda test: -(_memory_growth(test) or 0))
    return (
        '<section id="worst"><h2>Worst offenders</h2><div class="worst">'
        f"<div><b>Leaking tests</b><ol>{_worst_rows(leaking, anchors) or '<li>none: no test leaked</li>'}"
        f"</ol><b>Growing tests</b><ol>{_worst_rows(growing, anchors) or '<li>none: no test grew</li>'}"
        "</ol></div>"
        f"<div><b>Creation sites</b><ol>{_worst_sites(doc) or '<li>none</li>'}</ol></div>"
        "</div></section>"
    )


def _worst_rows(tests: Sequence[Mapping[str, Any]], anchors: Mapping[str, str]) -> str:
    rows = []
    for test in tests[:WORST_SHOWN]:
        objects, size, growth = _severity(test)
        bits = []
        if objects:
            bits.append(kinds_text([*_gl_items(test), *_image_items(test)]))
        if size:
            bits.append(format_bytes(size))
        if growth:
            per = "/repetition" if "per_iteration" in (test.get("memory") or {}) else ""
            bits.append(f"memory {format_bytes(growth, signed=True)}{per}")
        if _status(test) == "crashed":
            bits.append("worker crashed")
        nodeid = str(test.get("nodeid", ""))
        rows.append(
            f'<li><a href="#{anchors.get(nodeid, "")}"><code>{_e(nodeid)}</code></a> '
            f'<span class="muted">[{_e(_status(test))}] {_e("; ".join(bits))}</span></li>'
        )
    return "".join(rows)


def _worst_sites(doc: Mapping[str, Any]) -> str:
    sites = list(doc.get("sites") or [])
    totals: dict[str, int] = {}
    for site in sites:
        totals[site["kind"]] = totals.get(site["kind"], 0) + int(site["count"])
    return "".join(
        f"<li>{_e(site_sentence(site, totals[site['kind']]))}</li>" for site in sites[:WORST_SHOWN]
    )


def _test_table(doc: Mapping[str, Any], anchors: Mapping[str, str]) -> str:
    head = (
        '<tr><th>status</th><th class="test">test</th><th>GL leaked</th><th>GPU bytes</th>'
        "<th>images leaked</th><th>image bytes</th><th>memory growth</th><th>heap growth</th>"
        "<th>notes</th></tr>"
    )
    rows = []
    for test in _sorted_tests(doc):
        gl, images = _gl_items(test), _image_items(test)
        memory = test.get("memory") or {}
        nodeid = str(test.get("nodeid", ""))
        name = f"<code>{_e(nodeid)}</code>"
        if nodeid in anchors:
            name = f'<a href="#{anchors[nodeid]}">{name}</a>'
        notes = [test.get("message") or "", *(test.get("known") or [])]
        growth = _memory_growth(test)
        heap = format_bytes(memory["heap"], signed=True) if "heap" in memory else "-"
        status = _status(test)
        rows.append(
            f'<tr class="{_e(status)}"><td>{_e(status)}</td><td class="test">{name}</td>'
            f"<td>{_e(kinds_text(gl) if gl else ('0' if test.get('gl') else '-'))}</td>"
            f'<td class="num">{_e(format_bytes(_bytes_of(gl)) if gl else "-")}</td>'
            f"<td>{_e(kinds_text(images) if images else ('0' if test.get('images') else '-'))}</td>"
            f'<td class="num">{_e(format_bytes(_bytes_of(images)) if images else "-")}</td>'
            f'<td class="num">{_e(format_bytes(growth, signed=True) if growth is not None else "-")}</td>'
            f'<td class="num">{_e(heap)}</td>'
            f"<td>{'<br>'.join(_e(note) for note in notes if note)}</td></tr>"
        )
    clean = sum(1 for test in doc.get("tests") or [] if _status(test) == "clean")
    toggle = (
        '<input type="checkbox" id="hide-clean">'
        f'<label class="toggle" for="hide-clean"> hide the {_e(count_phrase(clean, "clean test"))}</label>'
    )
    table = f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'
    return f'<section id="tests"><h2>Tests</h2>{toggle}{table}</section>'


def _site_table(doc: Mapping[str, Any]) -> str:
    head = "<tr><th>kind</th><th>leaked</th><th>bytes</th><th>tests</th><th>created at</th></tr>"
    rows = []
    for site in doc.get("sites") or []:
        where = site_text([{"file": site["file"], "line": site["line"], "function": site["function"]}])
        nodeids = "".join(
            f"<li><code>{_e(nodeid)}</code></li>"
            for nodeid in sorted(site.get("nodeids", []), key=natural_key)
        )
        rows.append(
            f'<tr><td>{_e(kind_name(site["kind"]))}</td><td class="num">{_e(site["count"])}</td>'
            f'<td class="num">{_e(format_bytes(site["bytes"]))}</td>'
            f'<td class="num">{_e(site["tests"])}</td>'
            f"<td><code>{_e(where)}</code><details><summary>tests</summary><ul>{nodeids}</ul></details></td></tr>"
        )
    body = "".join(rows) or '<tr><td colspan="5">no leaks</td></tr>'
    table = f'<div class="scroll"><table>{head}{body}</table></div>'
    return f'<section id="sites"><h2>Creation sites</h2>{table}</section>'


def _row(first: Any, what: Any, size: str, frames: Iterable[Mapping[str, Any]]) -> str:
    """One row of a per-test table: what it is, what there is of it, its size, where it was made."""
    return (
        f"<tr><td>{_e(first)}</td><td>{_e(what)}</td>"
        f'<td class="num">{_e(size)}</td><td>{_stack(frames)}</td></tr>'
    )


def _stack(frames: Iterable[Mapping[str, Any]]) -> str:
    lines = [f"{frame.get('file')}:{frame.get('line')} in {frame.get('function')}()" for frame in frames]
    return "<br>".join(f"<code>{_e(line)}</code>" for line in lines) or '<span class="muted">unknown</span>'


def _where_it_grew(memory: Mapping[str, Any]) -> str:
    """The memory growth diagnosis: what grew in every repetition, per repetition, and what it explains."""
    if "grew_at" not in memory:
        return ""
    rows = []
    for site in memory.get("grew_at") or []:
        rows.append(
            _row(
                site.get("domain"),
                count_phrase(int(site.get("blocks", 0)), "block"),
                format_bytes(site.get("bytes_per_iteration", 0), signed=True),
                site.get("stack") or [site],
            )
        )
    for item in memory.get("gl_per_iteration") or []:
        objects = "+" + kind_phrase(str(item.get("kind")), int(item.get("count", 0)))
        rows.append(
            _row(
                "gl",
                objects,
                format_bytes(item.get("bytes", 0), signed=True) + " GPU",
                item.get("create_site") or [],
            )
        )
    for item in memory.get("images_per_iteration") or []:
        what = f"+{count_phrase(int(item.get('count', 0)), str(item.get('kind')))}"
        if item.get("held_by"):
            what += f"; held by {item['held_by']}"
        rows.append(
            _row(
                "image", what, format_bytes(item.get("bytes", 0), signed=True), item.get("create_site") or []
            )
        )
    body = (
        "".join(rows)
        or '<tr><td colspan="4">no Python/NumPy site, GL object or image grew every time</td></tr>'
    )
    return (
        "<h3>Where it grew, per repetition</h3><table><tr><th>what</th><th>count</th><th>bytes</th>"
        f"<th>where (innermost first)</th></tr>{body}</table><p>{_e(explained_sentence(memory))}</p>"
    )


def _details(doc: Mapping[str, Any], anchors: Mapping[str, str]) -> str:
    blocks = []
    for test in _sorted_tests(doc):
        nodeid = str(test.get("nodeid", ""))
        if nodeid not in anchors:
            continue
        rows = []
        for item in _gl_items(test):
            label = f" “{item['label']}”" if item.get("label") else ""
            extra = ", reserved, never bound" if item.get("reserved_only") else ""
            if item.get("unconfirmed"):
                extra = ", unconfirmed"
            name = f"name {item['name']}" if "name" in item else "GL object"
            described = f"{name}{label} (created in {item.get('phase')}{extra})"
            rows.append(
                _row(
                    kind_name(str(item.get("kind"))),
                    described,
                    format_bytes(item.get("bytes", 0)),
                    item.get("create_site") or [],
                )
            )
        for item in _image_items(test):
            shape = "x".join(str(part) for part in item.get("shape") or [])
            what = " ".join(str(part) for part in (item.get("mode") or item.get("dtype"), shape) if part)
            if item.get("kind") == "pillow_blocks":
                what = f"{item.get('count', 1)} blocks"
            if item.get("held_by"):
                what += f"; held by {item['held_by']}"
            rows.append(
                _row(
                    kind_name(str(item.get("kind"))),
                    what,
                    format_bytes(item.get("bytes", 0)),
                    item.get("create_site") or [],
                )
            )
        memory = test.get("memory") or {}
        table = ""
        if rows:
            table = (
                "<table><tr><th>kind</th><th>object</th><th>bytes</th>"
                f"<th>created at (innermost first)</th></tr>{''.join(rows)}</table>"
            )
        figures = ", ".join(
            _memory_figure(key, value)
            for key, value in sorted(memory.items(), key=lambda pair: _FIGURE_ORDER.get(pair[0], 99))
            if isinstance(value, int)
        )
        extra = f"<p>memory: {_e(figures)}</p>" if figures else ""
        extra += _where_it_grew(memory)
        crashed = "<p>The worker crashed while running this test.</p>" if _status(test) == "crashed" else ""
        message = _e(test.get("message") or "")
        blocks.append(
            f'<details id="{anchors[nodeid]}" open><summary><code>{_e(nodeid)}</code> '
            f'<span class="muted">[{_e(_status(test))}] {message}</span></summary>'
            f"{crashed}{table}{extra}</details>"
        )
    if not blocks:
        return ""
    return '<section id="details"><h2>Leaked objects by test</h2>' + "".join(blocks) + "</section>"


_FIGURE_NAMES = {
    "per_iteration": "growth per repetition",
    "limit": "limit",
    "rss": "RSS growth",
    "uss": "USS growth",
    "heap": "heap growth",
    "image_bytes": "image bytes growth",
    "fds": "open files",
    "threads": "threads",
}


_FIGURE_ORDER = {key: rank for rank, key in enumerate(_FIGURE_NAMES)}


def _memory_figure(key: str, value: int) -> str:
    name = _FIGURE_NAMES.get(key, key)
    if key in ("fds", "threads"):
        return f"{name} {value:+d}"
    return f"{name} {format_bytes(value, signed=key != 'limit')}"


def render_html(doc: Mapping[str, Any]) -> str:
    """The whole report page for a :func:`pytest_glleak.report.json_report.build_json` document."""
    summary = doc.get("summary") or {}
    environment = doc.get("environment") or {}
    tests = list(doc.get("tests") or [])
    anchors = {
        str(test.get("nodeid")): _anchor(index)
        for index, test in enumerate(_sorted_tests(doc))
        if _status(test) in _NOTABLE
    }
    described = " · ".join(
        f"{key} {environment[key]}"
        for key in ("renderer", "gl_version", "backend", "python", "platform")
        if environment.get(key)
    )
    banners = []
    if summary.get("partial"):
        banners.append(
            '<div class="banner partial">Partial run: interrupted; only the tests that finished '
            "are reported.</div>"
        )
    for nodeid in summary.get("crashed") or []:
        banners.append(
            f'<div class="banner crashed">Worker crashed while running <code>{_e(nodeid)}</code></div>'
        )
    sequence = list(
        doc.get("sequence")
        or [
            {
                "nodeid": test.get("nodeid"),
                "gl_leaked": len(_gl_items(test)),
                "images_leaked": sum(leak_count(item) for item in _image_items(test)),
                **({"rss": _memory_growth(test)} if _memory_growth(test) is not None else {}),
            }
            for test in tests
        ]
    )
    memory_legend = (
        f'<span><i style="background:{MEMORY_COLORS[0]}"></i>memory</span>' if has_memory(sequence) else ""
    )
    legend = (
        f'<div class="legend"><span><i style="background:{GL_COLOR}"></i>GL objects</span>'
        f'<span><i style="background:{IMAGE_COLOR}"></i>image buffers</span>'
        f'<span><i style="background:{CUMULATIVE_COLOR}"></i>leaked objects, cumulative</span>'
        f"{memory_legend}</div>"
    )
    made = " · ".join(
        part
        for part in (
            f"created {doc['created']}" if doc.get("created") else "",
            f"pytest-glleak {doc['plugin_version']}" if doc.get("plugin_version") else "",
            f"pytest {doc['pytest_version']}" if doc.get("pytest_version") else "",
            f"{float(doc['duration_s']):.1f} s" if doc.get("duration_s") is not None else "",
        )
        if part
    )
    env_rows = "".join(
        f"<tr><th>{_e(key)}</th><td>{_e(environment[key])}</td></tr>" for key in sorted(environment)
    )
    page = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pytest-glleak report: {_e(_headline(summary))}</title>",
        f"<style>{_css()}</style></head><body><main>",
        f'<h1>pytest-glleak report</h1><p class="env">{_e(made)}</p><p class="env">{_e(described)}</p>',
        *banners,
        _cards(summary),
        _worst(doc, anchors),
        f'<section id="chart"><h2>Over the run</h2><div class="chart">{render_chart(sequence)}{legend}</div>'
        "</section>",
        _test_table(doc, anchors),
        _site_table(doc),
        _details(doc, anchors),
        f'<section id="environment"><h2>Environment</h2><table>{env_rows}</table>'
        f'<p class="muted">report format version {_e(doc.get("version"))}</p></section>',
        "</main></body></html>",
    ]
    return "\n".join(page) + "\n"


def _headline(summary: Mapping[str, Any]) -> str:
    leaked = int(summary.get("tests_leaked", 0)) + int(summary.get("tests_grew", 0))
    objects = int(summary.get("leaked_gl_objects", 0))
    images = int(summary.get("leaked_image_buffers", 0))
    text = f"{leaked} of {summary.get('tests_checked', 0)} tests leaked or grew"
    if objects:
        text += f", {kind_phrase('GL object', objects)}"
    if images:
        text += f", {kind_phrase('image buffer', images)}"
    return text
