"""The failure text for leaked image buffers: every buffer, its holder and its creation site."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_glleak.findings import LeakedImage
from pytest_glleak.report.text import count_phrase
from pytest_glleak.report.text import format_bytes_exact as _format_size
from pytest_glleak.sites import frame_text


def _describe_item(item: LeakedImage) -> str:
    kind = item.get("kind", "?")
    shape = item.get("shape", [])
    if kind == "pil_image":
        dims = "x".join(str(n) for n in shape)
        size = _format_size(item["bytes"]) if item.get("bytes") else "not decoded yet"
        return f"Pillow image {item.get('mode', '?')} {dims}, {size}"
    if kind == "ndarray":
        dims = "x".join(str(n) for n in shape)
        dtype = item.get("dtype")
        what = f"NumPy array {dtype} {dims}" if dtype else "NumPy array data"
        return f"{what}, {_format_size(item.get('bytes', 0))}"
    if kind == "bytes":
        return f"bytes from Image.tobytes(), {_format_size(item.get('bytes', 0))}"
    if kind == "pillow_blocks":
        count = item.get("count", 0)
        return f"{count_phrase(count, 'Pillow pixel block')} in use that no live Image explains"
    return f"{kind}, {_format_size(item.get('bytes', 0))}"


def format_image_leaks(items: Sequence[LeakedImage]) -> str:
    """The failure text for leaked image buffers: one entry per item, every frame, never truncated."""
    total = sum(item.get("bytes", 0) for item in items)
    lines = [
        f"{count_phrase(len(items), 'image buffer')} still alive after teardown ({_format_size(total)}):"
    ]
    for number, item in enumerate(items, 1):
        phase = item.get("phase")
        lines.append(f"  {number}. {_describe_item(item)}" + (f" [created in {phase}]" if phase else ""))
        held_by = item.get("held_by")
        if held_by:
            lines.append(
                f"     holder {held_by}" if held_by.startswith("not found") else f"     held by {held_by}"
            )
        site = item.get("create_site", [])
        if site:
            lines.append("     created at:")
            lines.extend(f"       {frame_text(frame)}" for frame in site)
        elif item.get("kind") != "pillow_blocks":
            lines.append("     created at: (no user frame recorded)")
    return "\n".join(lines)
