"""The leaky variant's tests: the same two tests run against ``glthumbs.leaky`` (default) or the real
``glthumbs.view`` (``--thumbs-impl=real``).

They are meant to FAIL against the leaky module under pytest-glleak (``--glleak-mode=all``): one leaks
decoded images, the other a texture. The example's own run does not collect this directory; pytest-glleak's
suite runs it (``tests/e2e/test_example_leaky.py`` there).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

#: Size of each sample image; decoded to RGBA it is 76,800 bytes, above the image tracker's threshold.
SAMPLE_SIZE = (160, 120)
SAMPLE_COUNT = 3


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--thumbs-impl",
        choices=("leaky", "real"),
        default="leaky",
        help="which glthumbs module the tests exercise: leaky (glthumbs.leaky) or real (glthumbs.view)",
    )


@pytest.fixture
def impl(pytestconfig: pytest.Config) -> ModuleType:
    """``glthumbs.leaky`` or ``glthumbs.view``: both offer ``Gallery`` and ``ThumbnailView``."""
    name = "glthumbs.leaky" if pytestconfig.getoption("--thumbs-impl") == "leaky" else "glthumbs.view"
    return importlib.import_module(name)


@pytest.fixture
def sample_paths(tmp_path: Path) -> list[Path]:
    """Three flat-colour PNGs of SAMPLE_SIZE (a few hundred bytes on disk)."""
    paths = []
    for index in range(SAMPLE_COUNT):
        path = tmp_path / f"sample{index}.png"
        Image.new("RGB", SAMPLE_SIZE, (40 * index, 120, 200)).save(path)
        paths.append(path)
    return paths
