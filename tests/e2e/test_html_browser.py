"""The HTML report in a real browser: a real run's page rendered by headless Chromium at 800 and 1,400 px.

``tools/check_html.py`` takes the screenshots (kept under pytest's tmp path), checks that the chart's plot
frames lie inside the image and scale with the window, measures the page in the browser (no horizontal
scroll at 800 px) and that the CSS-only "hide clean tests" toggle hides rows. Skipped where Chromium is
not installed (``apt-get install -y chromium``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CHECK = Path(__file__).parents[2] / "tools" / "check_html.py"

MANY = """
import OpenGL.GL as gl
import pytest
from app.render import upload


@pytest.mark.no_gl_leak
@pytest.mark.parametrize("n", range(12))
def test_param(gl_context, n):
    texture = upload()
    if n % 5 != 3:
        gl.glDeleteTextures([texture])
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_the_report_fits_800_and_1400_px_windows(pytester: pytest.Pytester) -> None:
    pytester.copy_example("portable")
    (pytester.path / "tests" / "test_many.py").write_text(MANY)
    page = pytester.path / "report.html"
    pytester.runpytest("-p", "no:randomly", f"--glleak-html={page}").assert_outcomes(passed=11, errors=5)

    shots = pytester.path / "shots"
    checked = subprocess.run(
        [sys.executable, str(CHECK), str(page), "--out", str(shots), "--widths", "800,1400"],
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.rstrip().endswith("ok")
    assert (shots / "report-800.png").stat().st_size > 0 and (shots / "report-1400.png").stat().st_size > 0

    # The check can fail: the same page with the chart fixed at 1,100 px is cut in an 800 px window.
    broken = pytester.path / "fixed.html"
    broken.write_text(page.read_text().replace("width:100%;height:auto;max-width:1100px", "width:1100px"))
    failed = subprocess.run(
        [sys.executable, str(CHECK), str(broken), "--out", str(shots / "fixed"), "--widths", "800"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert failed.returncode == 1 and "leaves the window" in failed.stdout, failed.stdout
