"""The ``--glleak-html`` report: one self-contained HTML file rendered from the JSON document.

No scripts, no fonts, no network: inline CSS, and an inline SVG chart drawn here. Every value from
the document is escaped. Input is the dict :func:`pytest_glleak.report.json_report.build_json` returns.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_glleak.findings import REPORTED_VERDICTS
from pytest_glleak.report.growth_text import explained_sentence
from pytest_glleak.report.run import leak_count
from pytest_glleak.report.sites import site_sentence, site_text
from pytest_glleak.report.text import count_phrase, format_bytes, kind_name, kind_phrase, kinds_text

WORST_SHOWN = 5
_NOTABLE = (*REPORTED_VERDICTS, "crashed")

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232b;
background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:22px;margin:4px 0}
h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d5d9df;padding-bottom:4px}
.env{color:#5a6472;margin:0 0 10px}
.banner{padding:8px 12px;border-radius:6px;margin:8px 0;font-weight:600}
.banner.partial{background:#fff4d6;border:1px solid #e0b84a}
.banner.crashed{background:#fde2e1;border:1px solid #d9534f}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{background:#fff;border:1px solid #d5d9df;border-radius:8px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#5a6472;font-size:12px}
.card.bad b{color:#c0392b}.card.ok b{color:#2e7d32}
.worst{display:grid;grid-template-columns:1fr 1fr;gap:16px}
.worst ol{margin:4px 0;padding-left:22px}.worst li{margin:3px 0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #e1e4e8;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.leaked td:first-child,tr.grew td:first-child,tr.crashed td:first-child{color:#c0392b;font-weight:700}
tr.known td:first-child{color:#b7791f;font-weight:700}tr.clean td:first-child{color:#2e7d32}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;
overflow-wrap:anywhere}
th.test,td.test{min-width:24em}
details{background:#fff;border:1px solid #d5d9df;border-radius:6px;margin:6px 0;padding:4px 10px}
summary{cursor:pointer;font-weight:600}
.muted{color:#5a6472}.chart{background:#fff;border:1px solid #d5d9df;border-radius:8px;padding:6px}
.chart-svg{display:block;width:100%;height:auto;max-width:1100px}
.toggle{margin:4px 0 8px;display:inline-block}#hide-clean:checked ~ .scroll tr.clean{display:none}
.scroll{overflow-x:auto;max-width:100%}
.legend span{display:inline-block;margin-right:14px}.legend i{display:inline-block;width:11px;height:11px;
margin-right:4px;vertical-align:-1px}
"""

_GL_COLOR = "#3b6fd1"
_IMAGE_COLOR = "#e08a1e"
_CUMULATIVE_COLOR = "#c0392b"
_MEMORY_COLORS = ("#2e8b57", "#8e44ad", "#16a085", "#d35400", "#7f8c8d", "#2c3e50")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


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


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders numbers by value: ``test[2]`` before ``test[10]``."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _sorted_tests(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return sorted(doc.get("tests") or [], key=lambda test: natural_key(str(test.get("nodeid", ""))))


def _anchor(index: int) -> str:
    return f"test-{index}"


# --- chart ----------------------------------------------------------------------------------------
def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(value)


def _points(pairs: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pairs)


def _has_memory(sequence: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        "process_rss" in point or int(point.get("per_iteration", point.get("rss", 0)) or 0) > 0
        for point in sequence
    )


def render_chart(sequence: Sequence[Mapping[str, Any]], width: int = 800) -> str:
    """Inline SVG of the run in test order: leaked objects per test (bars) and cumulative (line) on
    top; memory below (process RSS per worker when sampled, else cumulative per-test growth), only
    when the run has memory data.

    The SVG scales to its container (``viewBox`` and ``width:100%``): ``width`` is the drawing's own
    coordinate width, chosen so that its 12-unit text stays readable in an 800 px window.
    """
    left, right, panel, gap, top = 64, 64, 150, 60, 24
    plot_width = width - left - right
    memory_panel = _has_memory(sequence)
    height = top + panel + 34 + ((gap + panel) if memory_panel else 0)
    count = len(sequence)
    parts = [
        f'<svg role="img" class="chart-svg" viewBox="0 0 {width} {height}" '
        'preserveAspectRatio="xMinYMin meet" font-size="12" font-family="sans-serif">',
        f"<title>Leaked objects{' and memory' if memory_panel else ''} over the sequence of tests</title>",
    ]
    if count == 0:
        parts.append(f'<text x="{left}" y="{top + 20}">no tests were recorded</text></svg>')
        return "".join(parts)
    step = plot_width / count
    bar = max(step * 0.8, 0.6)

    def x_of(index: float) -> float:
        return left + step * index + step / 2

    def frame(y0: int, label: str, maximum: float, right_label: str | None, right_max: float | None) -> None:
        parts.append(
            f'<rect x="{left}" y="{y0}" width="{plot_width}" height="{panel}" fill="#fbfcfd" '
            'stroke="#aab4c8" shape-rendering="crispEdges"/>'
        )
        parts.append(f'<text x="{left}" y="{y0 - 8}" font-weight="bold">{_e(label)}</text>')
        for fraction in (0.0, 0.5, 1.0):
            y = y0 + panel - panel * fraction
            parts.append(
                f'<line x1="{left}" x2="{left + plot_width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ea"/>'
            )
            parts.append(
                f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                f"{_e(_tick(maximum * fraction, label))}</text>"
            )
            if right_label is not None and right_max is not None:
                parts.append(
                    f'<text x="{left + plot_width + 6}" y="{y + 4:.1f}" fill="{_CUMULATIVE_COLOR}">'
                    f"{_e(_tick(right_max * fraction, right_label))}</text>"
                )

    # Panel 1: leaked objects.
    y1 = top
    per_test = [(int(p.get("gl_leaked", 0)), int(p.get("images_leaked", 0))) for p in sequence]
    leak_max = _nice_max(max((gl + images for gl, images in per_test), default=0))
    running = 0
    cumulative: list[int] = []
    for gl, images in per_test:
        running += gl + images
        cumulative.append(running)
    cumulative_max = _nice_max(running)
    frame(y1, "leaked objects per test", leak_max, "cumulative", cumulative_max)
    for index, (point, (gl, images)) in enumerate(zip(sequence, per_test, strict=True)):
        if gl + images == 0:
            continue
        x = x_of(index) - bar / 2
        what = f"{count_phrase(gl, 'GL object')}, {count_phrase(images, 'image buffer')}"
        tip = _e(f"{point.get('nodeid', '')}: {what}")
        base = float(y1 + panel)
        for amount, color in ((gl, _GL_COLOR), (images, _IMAGE_COLOR)):
            if amount:
                h = panel * amount / leak_max
                base -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="{color}"><title>{tip}</title></rect>'
                )
    line = [(x_of(i), y1 + panel - panel * value / cumulative_max) for i, value in enumerate(cumulative)]
    parts.append(
        f'<polyline fill="none" stroke="{_CUMULATIVE_COLOR}" stroke-width="1.6" points="{_points(line)}"/>'
    )

    # Panel 2: memory, when there is any.
    y2 = top + panel + gap
    sampled = [p for p in sequence if "process_rss" in p]
    if not memory_panel:
        y2 = top  # the axis labels go under the leak panel
    elif sampled:
        series: dict[str, list[tuple[int, int]]] = {}
        for index, point in enumerate(sequence):
            if "process_rss" in point:
                worker = str(point.get("worker") or "main")
                series.setdefault(worker, []).append((index, int(point["process_rss"])))
        low = min(value for values in series.values() for _, value in values)
        high = max(value for values in series.values() for _, value in values)
        span = _nice_max(max(high - low, 1))
        frame(y2, f"process RSS above {format_bytes(low)} (one line per process)", span, None, None)
        for number, (worker, values) in enumerate(sorted(series.items())):
            color = _MEMORY_COLORS[number % len(_MEMORY_COLORS)]
            pairs = [(x_of(i), y2 + panel - panel * (v - low) / span) for i, v in values]
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
                f'points="{_points(pairs)}"><title>{_e(worker)}</title></polyline>'
            )
            label_y = pairs[-1][1] + 4
            parts.append(
                f'<text x="{left + plot_width + 6}" y="{label_y:.1f}" fill="{color}">{_e(worker)}</text>'
            )
    else:
        growth = [int(p.get("per_iteration", p.get("rss", 0)) or 0) for p in sequence]
        total, climbing = 0, []
        for amount in growth:
            total += max(amount, 0)
            climbing.append(total)
        span = _nice_max(total)
        frame(y2, "memory growth, cumulative over tests", span, None, None)
        for index, (point, amount) in enumerate(zip(sequence, growth, strict=True)):
            if amount > 0:
                h = panel * amount / span
                tip = _e(f"{point.get('nodeid', '')}: {format_bytes(amount, signed=True)}")
                parts.append(
                    f'<rect x="{x_of(index) - bar / 2:.1f}" y="{y2 + panel - h:.1f}" '
                    f'width="{bar:.1f}" height="{h:.1f}" fill="{_MEMORY_COLORS[0]}" opacity="0.45">'
                    f"<title>{tip}</title></rect>"
                )
        pairs = [(x_of(i), y2 + panel - panel * value / span) for i, value in enumerate(climbing)]
        parts.append(
            f'<polyline fill="none" stroke="{_MEMORY_COLORS[0]}" stroke-width="1.6" '
            f'points="{_points(pairs)}"/>'
        )
    axis_y = y2 + panel + 16
    parts.append(f'<text x="{left}" y="{axis_y}">test 1</text>')
    parts.append(f'<text x="{left + plot_width}" y="{axis_y}" text-anchor="end">test {count}</text>')
    parts.append(
        f'<text x="{left + plot_width / 2:.0f}" y="{axis_y}" text-anchor="middle" fill="#5a6472">'
        "tests in the order they finished</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _tick(value: float, label: str) -> str:
    if "memory" in label or "RSS" in label:
        return format_bytes(int(value))
    return f"{value:g}"


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
            f"<tr><td>{_e(site.get('domain'))}</td>"
            f"<td>{_e(count_phrase(int(site.get('blocks', 0)), 'block'))}</td>"
            f'<td class="num">{_e(format_bytes(site.get("bytes_per_iteration", 0), signed=True))}</td>'
            f"<td>{_stack(site.get('stack') or [site])}</td></tr>"
        )
    for item in memory.get("gl_per_iteration") or []:
        objects = "+" + kind_phrase(str(item.get("kind")), int(item.get("count", 0)))
        rows.append(
            f"<tr><td>gl</td><td>{_e(objects)}</td>"
            f'<td class="num">{_e(format_bytes(item.get("bytes", 0), signed=True))} GPU</td>'
            f"<td>{_stack(item.get('create_site') or [])}</td></tr>"
        )
    for item in memory.get("images_per_iteration") or []:
        what = f"+{count_phrase(int(item.get('count', 0)), str(item.get('kind')))}"
        if item.get("held_by"):
            what += f"; held by {item['held_by']}"
        rows.append(
            f"<tr><td>image</td><td>{_e(what)}</td>"
            f'<td class="num">{_e(format_bytes(item.get("bytes", 0), signed=True))}</td>'
            f"<td>{_stack(item.get('create_site') or [])}</td></tr>"
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
                f"<tr><td>{_e(kind_name(str(item.get('kind'))))}</td><td>{_e(described)}</td>"
                f'<td class="num">{_e(format_bytes(item.get("bytes", 0)))}</td>'
                f"<td>{_stack(item.get('create_site') or [])}</td></tr>"
            )
        for item in _image_items(test):
            shape = "x".join(str(part) for part in item.get("shape") or [])
            what = " ".join(str(part) for part in (item.get("mode") or item.get("dtype"), shape) if part)
            if item.get("kind") == "pillow_blocks":
                what = f"{item.get('count', 1)} blocks"
            if item.get("held_by"):
                what += f"; held by {item['held_by']}"
            rows.append(
                f"<tr><td>{_e(kind_name(str(item.get('kind'))))}</td><td>{_e(what)}</td>"
                f'<td class="num">{_e(format_bytes(item.get("bytes", 0)))}</td>'
                f"<td>{_stack(item.get('create_site') or [])}</td></tr>"
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
        f'<span><i style="background:{_MEMORY_COLORS[0]}"></i>memory</span>' if _has_memory(sequence) else ""
    )
    legend = (
        f'<div class="legend"><span><i style="background:{_GL_COLOR}"></i>GL objects</span>'
        f'<span><i style="background:{_IMAGE_COLOR}"></i>image buffers</span>'
        f'<span><i style="background:{_CUMULATIVE_COLOR}"></i>leaked objects, cumulative</span>'
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
        f"<style>{_CSS}</style></head><body><main>",
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
