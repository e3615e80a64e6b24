"""The one text helper: each message's byte style, plurals and kind phrases, spelled exactly."""

from __future__ import annotations

import pytest

from pytest_glleak.report.text import (
    STATUS_WORDS,
    api_kind_phrase,
    count_phrase,
    format_bytes,
    format_bytes_exact,
    format_bytes_spelled,
    kind_phrase,
    kinds_text,
)


@pytest.mark.parametrize(
    ("amount", "short", "spelled", "exact"),
    [
        (0, "0 B", "0 bytes", "0 B"),
        (512, "512 B", "512 bytes", "512 B"),
        (1023, "1023 B", "1,023 bytes", "1,023 B"),
        (1024, "1.0 KiB", "1.0 KiB", "1.0 KiB (1,024 B)"),
        (240_000, "234.4 KiB", "234.4 KiB", "234.4 KiB (240,000 B)"),
        (1_572_864, "1.5 MiB", "1.5 MiB", "1.5 MiB (1,572,864 B)"),
        (5 * 2**40, "5.0 TiB", "5120.0 GiB", "5120.0 GiB (5,497,558,138,880 B)"),
    ],
)
def test_each_byte_style(amount: int, short: str, spelled: str, exact: str) -> None:
    assert format_bytes(amount) == short
    assert format_bytes_spelled(amount) == spelled
    assert format_bytes_exact(amount) == exact


def test_short_bytes_signs_and_missing() -> None:
    assert format_bytes(None) == "-"
    assert format_bytes(2048, signed=True) == "+2.0 KiB"
    assert format_bytes(-2048, signed=True) == "-2.0 KiB"
    assert format_bytes(0, signed=True) == "0 B"


def test_phrases() -> None:
    assert count_phrase(1, "test") == "1 test"
    assert count_phrase(0, "GL object") == "0 GL objects"
    assert kind_phrase("vertex_array", 1) == "1 vertex array"
    assert kind_phrase("query", 1500) == "1,500 queries"
    assert api_kind_phrase("query", 2) == "2 queries"
    assert api_kind_phrase("renderbuffer", 3) == "3 renderbuffers"
    assert api_kind_phrase("texture", 1) == "1 texture"
    leaked = [
        {"kind": "buffer"},
        {"kind": "texture"},
        {"kind": "texture"},
        {"kind": "pillow_blocks", "count": 4},
    ]
    assert kinds_text(leaked) == "2 textures, 1 buffer, 4 Pillow blocks"


def test_status_words() -> None:
    assert STATUS_WORDS == {
        "leaked": "LEAKED",
        "grew": "GREW",
        "known": "KNOWN",
        "clean": "clean",
        "skipped": "skipped",
    }
