"""The "where it grew" text of a memory growth failure: sites, GL objects and images per repetition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_glleak.findings import Frame, GLGrowth, GrowthSite, ImageGrowth
from pytest_glleak.report.text import count_phrase, format_bytes, kind_phrase
from pytest_glleak.sites import portable_path

_NATIVE = "native (a C extension, the GL driver)"
_MEASURE_NAMES = {
    "rss": "RSS",
    "uss": "USS",
    "malloc": "C heap (malloc)",
    "heap": "The traced heap",
    "image_bytes": "Image memory",
}


def _frame(frame: Frame) -> str:
    return f"{portable_path(frame['file'])}:{frame['line']} in {frame['function']}"


def _stack(frames: Sequence[Frame], indent: str) -> list[str]:
    if not frames:
        return [f"{indent}at (no user frame recorded)"]
    lines = [f"{indent}at {_frame(frames[0])}"]
    lines.extend(f"{indent}   called from {_frame(frame)}" for frame in frames[1:])
    return lines


def _image_what(row: ImageGrowth) -> str:
    count = int(row.get("count", 0))
    kind = row.get("kind", "pil_image")
    dims = "x".join(str(n) for n in row.get("shape", []))
    if kind == "pil_image":
        detail = f"Pillow {row.get('mode', '?')} {dims}".rstrip()
        noun = "image"
    else:
        detail = f"NumPy {row.get('dtype', '')} {dims}".strip()
        noun = "pixel array"
    return f"+{count_phrase(count, noun)} ({detail}), +{format_bytes(int(row.get('bytes', 0)))}"


def explained_sentence(memory: Mapping[str, Any]) -> str:
    """The measured growth set against what the listed sites explain; what is left said to be native.

    Python/NumPy allocations are what tracemalloc saw; images (Pillow's pixel memory) and GL objects
    (estimated GPU bytes, kept in process memory by software drivers) are named when listed.
    """
    measured_by = str(memory.get("measured_by", "rss"))
    measured = int(memory.get("measured_per_iteration", memory.get("per_iteration", 0)))
    parts: list[tuple[int, str]] = [
        (int(memory.get("explained_per_iteration", 0)), "Python/NumPy allocations"),
        (sum(int(row.get("bytes", 0)) for row in memory.get("images_per_iteration") or []), "images"),
        (sum(int(row.get("bytes", 0)) for row in memory.get("gl_per_iteration") or []), "GL objects"),
    ]
    named = [(amount, what) for amount, what in parts if amount > 0]
    head = f"{_MEASURE_NAMES.get(measured_by, measured_by)} grew {format_bytes(measured)} per repetition"
    if not named:
        return f"{head}, none of it in Python/NumPy allocations: the growth is {_NATIVE}."
    explained = sum(amount for amount, _ in named)
    phrases = [f"{format_bytes(amount)} in {what}" for amount, what in named]
    where = phrases[0] if len(phrases) == 1 else f"{', '.join(phrases[:-1])} and {phrases[-1]}"
    if explained >= measured * 0.9:
        return f"{head}: {where} listed above."
    return f"{head}: {where} listed above; the rest is {_NATIVE}."


def format_growth_sites(memory: Mapping[str, Any], repeat: int) -> str:
    """The diagnosis text: allocation sites, GL objects and images that grew in every repetition."""
    grew_at: list[GrowthSite] = list(memory.get("grew_at") or [])
    gl_rows: list[GLGrowth] = list(memory.get("gl_per_iteration") or [])
    image_rows: list[ImageGrowth] = list(memory.get("images_per_iteration") or [])
    lines = [
        f"Where it grew (the {repeat} measured repetitions run again under tracemalloc; what grew in every "
        "one, per repetition, largest first):"
    ]
    if not (grew_at or gl_rows or image_rows):
        lines.append("  no Python/NumPy allocation site, GL object or image grew in every repetition")
    for site in grew_at:
        blocks = count_phrase(int(site["blocks"]), "block")
        lines.append(
            f"  +{format_bytes(site['bytes_per_iteration'])} ({blocks}) [{site['domain']}] "
            f"{portable_path(site['file'])}:{site['line']} in {site['function']}"
        )
        lines.extend(f"      called from {_frame(frame)}" for frame in site.get("stack", [])[1:])
    for row in gl_rows:
        lines.append(f"  +{kind_phrase(row['kind'], row['count'])}, +{format_bytes(row['bytes'])} GPU [gl]")
        lines.extend(_stack(row["create_site"], "      "))
    for image in image_rows:
        lines.append(f"  {_image_what(image)} [image]")
        lines.extend(_stack(image.get("create_site") or [], "      "))
        held_by = image.get("held_by")
        if held_by:
            lines.append(
                f"      held by {held_by}" if not held_by.startswith("not found") else f"      {held_by}"
            )
    lines.append(explained_sentence(memory))
    return "\n".join(lines)
