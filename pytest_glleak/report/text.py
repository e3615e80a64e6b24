"""The words of every pytest-glleak message: byte sizes, plurals and kind names, verdict words.

One module, so the terminal section, the failure texts, the HTML page and the baseline notes spell a
size, a count or a status the same way. Pure strings: no pytest, no measurement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytest_glleak.findings import GL_KINDS
from pytest_glleak.report.run import IMAGE_KINDS, counts_by_kind

# --- verdicts -------------------------------------------------------------------------------------
#: Status words of the terminal section and the test status line.
LEAKED = "LEAKED"
GREW = "GREW"
KNOWN = "KNOWN"
CRASHED = "CRASHED"
CLEAN = "clean"
SKIPPED = "skipped"

#: A verdict's status word in the terminal section.
STATUS_WORDS: dict[str, str] = {
    "leaked": LEAKED,
    "grew": GREW,
    "known": KNOWN,
    "clean": CLEAN,
    "skipped": SKIPPED,
}


# --- byte sizes -----------------------------------------------------------------------------------
def _scaled(amount: float, units: tuple[str, ...]) -> tuple[float, str]:
    """``amount`` bytes in the largest of ``units`` (each 1024 times the one before) under 1024 of it;
    the last unit takes whatever is larger."""
    value = float(amount)
    for unit in units[:-1]:
        if value < 1024:
            return value, unit
        value /= 1024
    return value, units[-1]


def format_bytes(amount: int | float | None, signed: bool = False) -> str:
    """Short, for tables: ``1572864`` -> ``"1.5 MiB"``, ``512`` -> ``"512 B"``; None -> ``"-"``.

    With ``signed``, growth gets a ``+``.
    """
    if amount is None:
        return "-"
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    value, unit = _scaled(abs(amount), ("B", "KiB", "MiB", "GiB", "TiB"))
    if unit == "B":
        return f"{sign}{int(value)} B"
    return f"{sign}{value:.1f} {unit}"


def format_bytes_spelled(count: int) -> str:
    """For sentences (the GL failure text): ``512`` -> ``"512 bytes"``, ``1024`` -> ``"1.0 KiB"``."""
    value, unit = _scaled(count, ("bytes", "KiB", "MiB", "GiB"))
    return f"{count:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def format_bytes_exact(nbytes: int) -> str:
    """With the exact figure (the image failure text): ``240000`` -> ``"234.4 KiB (240,000 B)"``."""
    value, unit = _scaled(nbytes, ("B", "KiB", "MiB", "GiB"))
    return f"{nbytes:,} B" if unit == "B" else f"{value:.1f} {unit} ({nbytes:,} B)"


# --- counts and kinds -----------------------------------------------------------------------------
_PLURALS = {
    "texture": "textures",
    "buffer": "buffers",
    "renderbuffer": "renderbuffers",
    "sampler": "samplers",
    "framebuffer": "framebuffers",
    "vertex_array": "vertex arrays",
    "transform_feedback": "transform feedbacks",
    "program_pipeline": "program pipelines",
    "query": "queries",
    "shader": "shaders",
    "program": "programs",
    "sync": "sync objects",
    "display_list": "display lists",
    "pil_image": "Pillow images",
    "ndarray": "NumPy arrays",
    "pillow_blocks": "Pillow blocks",
}
_SINGULARS = {
    "vertex_array": "vertex array",
    "transform_feedback": "transform feedback",
    "program_pipeline": "program pipeline",
    "sync": "sync object",
    "display_list": "display list",
    "pil_image": "Pillow image",
    "ndarray": "NumPy array",
    "pillow_blocks": "Pillow block",
}


def kind_name(kind: str) -> str:
    """A kind in people's words, singular: ``"pil_image"`` -> ``"Pillow image"``."""
    return _SINGULARS.get(kind, kind)


def count_phrase(count: int, noun: str) -> str:
    """``(3, "test")`` -> ``"3 tests"``; ``(1, "GL object")`` -> ``"1 GL object"`` (plural by ``s``)."""
    return f"{count} {noun}{'s' if count != 1 else ''}"


def kind_phrase(kind: str, count: int) -> str:
    """In words: ``("texture", 3)`` -> ``"3 textures"``; ``("vertex_array", 1)`` -> ``"1 vertex array"``."""
    if count == 1:
        return f"1 {_SINGULARS.get(kind, kind)}"
    return f"{count:,} {_PLURALS.get(kind, kind + 's')}"


def api_kind_phrase(kind: str, count: int) -> str:
    """As the API spells the kind, so failure texts can be searched for it: ``("query", 2)`` ->
    ``"2 queries"``; ``("vertex_array", 3)`` -> ``"3 vertex_arrays"``."""
    if count == 1:
        return f"1 {kind}"
    if kind.endswith("y"):
        return f"{count} {kind[:-1]}ies"
    return f"{count} {kind}{'es' if kind.endswith(('s', 'x', 'sh', 'ch')) else 's'}"


def kinds_text(items: Iterable[Mapping[str, Any]]) -> str:
    """``"3 textures, 1 buffer"`` for a list of leaked items, in report order of the kinds."""
    counts = counts_by_kind(items, GL_KINDS + IMAGE_KINDS)
    return ", ".join(kind_phrase(kind, count) for kind, count in counts.items())
