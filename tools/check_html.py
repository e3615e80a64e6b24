"""Render a ``--glleak-html`` report in headless Chromium and check that the chart fits the window.

    python tools/check_html.py REPORT.html [--out DIR] [--widths 800,1400]

For each window width this makes two checks, in a real browser (Debian's ``chromium``):

- a PNG screenshot (``DIR/report-<width>.png``, kept for a person to look at): the chart's plot frames
  (their distinctive stroke colour, found as long vertical runs of it) must lie inside the image, and the
  chart must scale with the window (wider at the larger width);
- a measurement: a copy of the page with a small script added (the report itself has none) is loaded with
  ``--dump-dom``; the script writes the chart's right edge, the window width and the page's scroll width,
  so a page wider than the window (a horizontal scrollbar) fails too.

It also renders the page with the "hide clean tests" checkbox ticked and checks that rows disappear
(the toggle is CSS only). Exit status 0 when every check passes, 1 otherwise, 2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

#: The stroke of the chart's plot frames (``pytest_glleak.report.html``); used nowhere else on the page.
FRAME_COLOR = (0xAA, 0xB4, 0xC8)  # "#aab4c8": 40+ away from every grey of the page CSS
TOLERANCE = 16  # the frame is drawn crisp (shape-rendering="crispEdges"); scaling fades it a little
MIN_RUN = 80  # a plot frame's vertical edge is at least this many pixels of the frame colour
HEIGHT = 2400

MEASURE = """<script>
window.addEventListener("load", () => {
  const chart = document.querySelector(".chart-svg").getBoundingClientRect();
  const rows = [...document.querySelectorAll("#tests tr")].filter(r => r.offsetParent !== null).length;
  const out = document.createElement("pre");
  out.id = "glleak-measure";
  out.textContent = JSON.stringify({
    chart_left: chart.left, chart_right: chart.right, chart_width: chart.width,
    window_width: window.innerWidth, scroll_width: document.documentElement.scrollWidth,
    visible_rows: rows,
  });
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_browser(binary: str, width: int, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--window-size={width},{HEIGHT}",
            *args,
        ]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def screenshot(binary: str, page: Path, width: int, target: Path) -> None:
    result = _run_browser(binary, width, f"--screenshot={target}", page.resolve().as_uri())
    if not target.exists():
        raise RuntimeError(f"chromium wrote no screenshot: {result.stderr[-2000:]}")


def measure(
    binary: str, page: Path, width: int, workdir: Path, *, hide_clean: bool = False
) -> dict[str, float]:
    text = page.read_text(encoding="utf-8")
    if hide_clean:
        text = text.replace('id="hide-clean">', 'id="hide-clean" checked>')
    copy = workdir / f"measure-{width}{'-hidden' if hide_clean else ''}.html"
    copy.write_text(text.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    result = _run_browser(binary, width, "--dump-dom", copy.resolve().as_uri())
    found = re.search(r'<pre id="glleak-measure">(.*?)</pre>', result.stdout, re.S)
    if not found:
        raise RuntimeError(f"no measurement in the dumped DOM: {result.stderr[-2000:]}")
    return json.loads(found.group(1).replace("&quot;", '"'))  # type: ignore[no-any-return]


def frame_edges(png: Path) -> tuple[int, int] | None:
    """The leftmost and rightmost columns holding a long vertical run of the plot-frame colour."""
    image = Image.open(png).convert("RGB")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    columns = []
    for x in range(width):
        count = 0
        for y in range(height):
            r, g, b = pixels[x, y]  # type: ignore[misc]
            if (
                abs(r - FRAME_COLOR[0]) <= TOLERANCE
                and abs(g - FRAME_COLOR[1]) <= TOLERANCE
                and abs(b - FRAME_COLOR[2]) <= TOLERANCE
            ):
                count += 1
        if count >= MIN_RUN:
            columns.append(x)
    return (columns[0], columns[-1]) if columns else None


def check(page: Path, out: Path, widths: list[int]) -> list[str]:
    """Every check's failure, as a sentence; empty when the page passes."""
    binary = chromium()
    if binary is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    chart_widths: dict[int, float] = {}
    for width in widths:
        png = out / f"report-{width}.png"
        screenshot(binary, page, width, png)
        edges = frame_edges(png)
        image_width = Image.open(png).size[0]
        if edges is None:
            problems.append(f"{width} px: no chart frame found in {png}")
        elif not 0 < edges[0] < edges[1] < image_width - 1 or edges[1] - edges[0] < image_width / 2:
            # Both vertical edges of the plot must show, far apart: a chart cut at the window's right edge
            # shows only its left edge.
            problems.append(
                f"{width} px: the chart frame's visible edges are columns {edges} of a {image_width} px image"
            )
        sizes = measure(binary, page, width, out)
        chart_widths[width] = sizes["chart_width"]
        print(f"{width} px: frame columns {edges}, measured {sizes}")
        if sizes["chart_right"] > sizes["window_width"] or sizes["chart_left"] < 0:
            problems.append(
                f"{width} px: the chart ({sizes['chart_left']}..{sizes['chart_right']}) leaves the window"
            )
        if sizes["scroll_width"] > sizes["window_width"]:
            problems.append(
                f"{width} px: the page is {sizes['scroll_width']} px wide, wider than the window "
                "(horizontal scroll)"
            )
        hidden = measure(binary, page, width, out, hide_clean=True)
        if "clean" in page.read_text(encoding="utf-8") and not hidden["visible_rows"] < sizes["visible_rows"]:
            problems.append(f"{width} px: ticking 'hide clean tests' hid no row")
    ordered = sorted(chart_widths)
    for small, large in itertools.pairwise(ordered):
        if not chart_widths[small] < chart_widths[large]:
            problems.append(
                f"the chart does not scale: {chart_widths[small]} px wide in a {small} px window, "
                f"{chart_widths[large]} px in a {large} px window"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--out", type=Path, default=Path("html-check"))
    parser.add_argument("--widths", default="800,1400")
    options = parser.parse_args(argv)
    try:
        problems = check(options.report, options.out, [int(part) for part in options.widths.split(",")])
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    for problem in problems:
        print(f"FAIL: {problem}")
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
