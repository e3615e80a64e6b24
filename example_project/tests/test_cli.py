"""The command line renders headless and writes the same PNG as an in-process render."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PIL import Image
from samples import max_difference

from glthumbs.sheet import render_contact_sheet


def run_cli(*arguments: str | Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYOPENGL_PLATFORM": "egl"}
    return subprocess.run(
        [sys.executable, "-m", "glthumbs", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_contact_sheet_command_writes_the_reference_png(
    gl_context: Any, sheet_files: list[Path], tmp_path: Path
) -> None:
    output = tmp_path / "sheet.png"
    completed = run_cli(
        "contact-sheet",
        *sheet_files,
        "-o",
        output,
        "--columns",
        "2",
        "--thumb",
        "40x30",
        "--labels",
        "--background",
        "#102030",
    )
    assert completed.returncode == 0, completed.stderr
    assert f"wrote {output}" in completed.stdout
    expected = render_contact_sheet(
        sheet_files, columns=2, thumb=(40, 30), labels=True, background=(16, 32, 48, 255)
    )
    with Image.open(output) as written:
        assert written.format == "PNG"
        assert written.size == expected.size
        # Same driver, same code path: identical pixels.
        assert max_difference(written.convert("RGBA"), expected) == 0


def test_contact_sheet_command_rejects_bad_arguments(sheet_files: list[Path], tmp_path: Path) -> None:
    output = tmp_path / "never.png"
    missing = run_cli("contact-sheet", tmp_path / "missing.png", "-o", output)
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    bad_size = run_cli("contact-sheet", sheet_files[0], "-o", output, "--thumb", "40by30")
    assert bad_size.returncode == 2
    assert "WIDTHxHEIGHT" in bad_size.stderr
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("not a picture")
    unreadable = run_cli("contact-sheet", not_an_image, "-o", output)
    assert unreadable.returncode == 2
    assert "cannot read an image" in unreadable.stderr
    assert not output.exists()
