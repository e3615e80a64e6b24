"""heap.diagnose and report.growth_text in-process: what grew in every repetition, and its text."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np

from pytest_glleak.findings import MemorySection
from pytest_glleak.heap.diagnose import diagnose, growth_diagnosis
from pytest_glleak.report.growth_text import explained_sentence, format_growth_sites

KEPT: list[Any] = []
MIB = 1 << 20


def keep_bytes() -> None:
    KEPT.append(bytearray(MIB))


def keep_array() -> None:
    KEPT.append(np.zeros(MIB // 8))


def test_a_site_growing_in_every_repetition_is_found_with_its_line() -> None:
    found = diagnose(keep_bytes, 3, {"rss": MIB, "malloc": MIB})
    KEPT.clear()
    top = found.grew_at[0]
    assert top["function"] == "keep_bytes" and top["domain"] == "python"
    assert top["line"] == keep_bytes.__code__.co_firstlineno + 1
    assert MIB <= top["bytes_per_iteration"] < MIB + 4096
    assert found.explained_per_iteration >= MIB and found.measured_by in ("rss", "malloc")
    assert not tracemalloc.is_tracing()  # started for the rerun, stopped after


def test_numpy_data_is_found_in_its_domain() -> None:
    found = diagnose(keep_array, 3, {"malloc": MIB})
    KEPT.clear()
    (top,) = found.grew_at
    assert (top["function"], top["domain"], top["bytes_per_iteration"], top["blocks"]) == (
        "keep_array",
        "numpy",
        MIB,
        1,
    )


def test_growth_in_only_some_repetitions_is_not_reported() -> None:
    calls = []

    def fills_once() -> None:
        calls.append(1)
        if len(calls) == 2:
            KEPT.append(bytearray(MIB))

    found = diagnose(fills_once, 4, {"rss": MIB})
    KEPT.clear()
    assert found.grew_at == [] and found.explained_per_iteration == 0


def test_the_text_names_sites_and_what_is_native() -> None:
    memory = growth_diagnosis(keep_bytes, 2, {"rss": 4 * MIB})
    KEPT.clear()
    text = format_growth_sites(memory, 2)
    assert "[python] " in text and "in keep_bytes" in text
    assert text.splitlines()[-1] == (
        "RSS grew 4.0 MiB per repetition: 1.0 MiB in Python/NumPy allocations listed above; "
        "the rest is native (a C extension, the GL driver)."
    )


def test_native_only_growth_is_said_to_be_native() -> None:
    memory: MemorySection = {
        "measured_by": "rss",
        "measured_per_iteration": 4 * MIB,
        "explained_per_iteration": 0,
    }
    assert explained_sentence(memory) == (
        "RSS grew 4.0 MiB per repetition, none of it in Python/NumPy allocations: "
        "the growth is native (a C extension, the GL driver)."
    )
    text = format_growth_sites({**memory, "grew_at": [], "gl_per_iteration": []}, 5)  # type: ignore[typeddict-item]
    assert "no Python/NumPy allocation site, GL object or image grew in every repetition" in text


def test_gl_and_image_rows_are_shown_per_repetition() -> None:
    site = [{"file": "viewer.py", "line": 12, "function": "upload"}]
    memory: MemorySection = {
        "measured_by": "rss",
        "measured_per_iteration": 64 * 1024,
        "explained_per_iteration": 0,
        "gl_per_iteration": [{"kind": "texture", "count": 1, "bytes": 64 * 1024, "create_site": site}],  # type: ignore[list-item]
        "images_per_iteration": [
            {
                "kind": "pil_image",
                "count": 2,
                "bytes": 2048,
                "mode": "L",
                "shape": [32, 32],
                "create_site": site,  # type: ignore[typeddict-item]
                "held_by": "list CACHE in module viewer",
            }
        ],
    }
    lines = format_growth_sites(memory, 5).splitlines()
    assert "  +1 texture, +64.0 KiB GPU [gl]" in lines
    assert "      at viewer.py:12 in upload" in lines
    assert "  +2 images (Pillow L 32x32), +2.0 KiB [image]" in lines
    assert "      held by list CACHE in module viewer" in lines
    assert (
        lines[-1]
        == "RSS grew 64.0 KiB per repetition: 2.0 KiB in images and 64.0 KiB in GL objects listed above."
    )
