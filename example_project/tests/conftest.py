"""Fixtures writing sample images into tmp_path (a few KB per test); the pictures come from samples.py.

No fixture here holds a decoded image or a GL object beyond its test: under ``glleak_mode = "all"`` every
test is checked for both, and a fixture that kept one would be reported as a leak.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from samples import pattern, write_sample


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    """A directory for this test's sample files."""
    directory = tmp_path / "samples"
    directory.mkdir()
    return directory


@pytest.fixture
def make_sample(sample_dir: Path) -> Callable[..., Path]:
    """``make_sample(name, mode, **save_options)`` writes one sample file and returns its path."""

    def make(name: str, mode: str = "RGBA", **options: object) -> Path:
        return write_sample(sample_dir, name, mode, options)

    return make


@pytest.fixture
def sheet_files(sample_dir: Path) -> list[Path]:
    """Five images of different sizes, shapes and formats for contact sheets."""
    paths = []
    for index, (name, size) in enumerate(
        [
            ("wide.png", (60, 20)),
            ("tall.webp", (15, 45)),
            ("square.bmp", (33, 33)),
            ("tiny.gif", (5, 3)),
            ("photo.png", (80, 50)),
        ]
    ):
        path = sample_dir / name
        picture = pattern(size, seed=index, alpha=name == "photo.png")
        if name.endswith(".gif"):
            picture.convert("RGB").quantize(colors=32).save(path)
        elif name.endswith(".webp"):
            picture.save(path, lossless=True, exact=True)
        elif name.endswith(".bmp"):
            picture.convert("RGB").save(path)
        else:
            picture.save(path)
        paths.append(path)
    return paths
