"""The HTML report's chart: one inline SVG of the run in test order.

Leaked objects per test (bars) and cumulative (line) on top; memory below, only when the run has memory
data. Drawn here as text, no scripts; every value from the document is escaped. The legend colours are
shared with the page (:mod:`pytest_glleak.report.html`).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_glleak.report.text import count_phrase, format_bytes

#: Colours of the chart's series, also used by the page's legend.
GL_COLOR = "#3b6fd1"
IMAGE_COLOR = "#e08a1e"
CUMULATIVE_COLOR = "#c0392b"
MEMORY_COLORS = ("#2e8b57", "#8e44ad", "#16a085", "#d35400", "#7f8c8d", "#2c3e50")


def escape(value: Any) -> str:
    """``value`` as text safe inside HTML text and attribute values (None is empty)."""
    return html.escape("" if value is None else str(value), quote=True)


_e = escape


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


def has_memory(sequence: Sequence[Mapping[str, Any]]) -> bool:
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
    memory_panel = has_memory(sequence)
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
                    f'<text x="{left + plot_width + 6}" y="{y + 4:.1f}" fill="{CUMULATIVE_COLOR}">'
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
        for amount, color in ((gl, GL_COLOR), (images, IMAGE_COLOR)):
            if amount:
                h = panel * amount / leak_max
                base -= h
                parts.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="{color}"><title>{tip}</title></rect>'
                )
    line = [(x_of(i), y1 + panel - panel * value / cumulative_max) for i, value in enumerate(cumulative)]
    parts.append(
        f'<polyline fill="none" stroke="{CUMULATIVE_COLOR}" stroke-width="1.6" points="{_points(line)}"/>'
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
            color = MEMORY_COLORS[number % len(MEMORY_COLORS)]
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
                    f'width="{bar:.1f}" height="{h:.1f}" fill="{MEMORY_COLORS[0]}" opacity="0.45">'
                    f"<title>{tip}</title></rect>"
                )
        pairs = [(x_of(i), y2 + panel - panel * value / span) for i, value in enumerate(climbing)]
        parts.append(
            f'<polyline fill="none" stroke="{MEMORY_COLORS[0]}" stroke-width="1.6" '
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
