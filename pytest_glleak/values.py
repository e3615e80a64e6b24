"""The values a setting can take: each parser, its limits, and how a bad value is shown.

Pure functions, no pytest: each takes what a layer gives (a command-line or environment string, or a
native TOML value from the ini table) and returns the typed value, or raises ``ValueError`` with a
message that says what was expected. :mod:`pytest_glleak.settings` turns that into a usage error naming
the value's source.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

BACKENDS = ("auto", "egl", "glfw")
PROFILES = ("core", "compat")
MODES = ("off", "marked", "all")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

#: The OpenGL versions that exist from 3.3 on (the oldest with core profiles this plugin supports).
GL_VERSIONS: tuple[tuple[int, int], ...] = ((3, 3), *((4, minor) for minor in range(7)))

#: The largest byte count accepted anywhere (options, ini keys, marker arguments): 1 PiB.
MAX_BYTES = 2**50

#: The largest baseline tolerance: 100 (10000%).
MAX_TOLERANCE = 100.0

#: The largest creation-site depth (frames kept per site).
MAX_STACK_DEPTH = 1000


def parse_bool(text: str | bool) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case), or a TOML boolean."""
    if isinstance(text, bool):
        return text
    if not isinstance(text, str):
        raise ValueError("expected true or false")
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected one of 1/true/yes/on or 0/false/no/off")


def choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    """A parser that accepts one of ``choices`` (any case, surrounding blanks ignored)."""

    def parse(text: str) -> str:
        if not isinstance(text, str):
            raise ValueError(f"expected one of {', '.join(choices)}")
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def _versions_text() -> str:
    return ", ".join(f"{major}.{minor}" for major, minor in GL_VERSIONS)


def parse_gl_version(text: str | float | tuple[int, int] | list[int]) -> tuple[int, int] | None:
    """``"4.5"`` -> ``(4, 5)``; ``""`` or ``"newest"`` -> None (the newest the driver offers).

    Only versions that exist are accepted: 3.3 and 4.0 to 4.6 (see :data:`GL_VERSIONS`). A
    ``(major, minor)`` pair, or a TOML number such as ``4.5``, is checked the same way.
    """
    if isinstance(text, (tuple, list)):
        if len(text) != 2 or not all(isinstance(part, int) and not isinstance(part, bool) for part in text):
            raise ValueError(
                f"expected a (major, minor) pair of integers such as (4, 5); known: {_versions_text()}"
            )
        version = (int(text[0]), int(text[1]))
    else:
        if isinstance(text, float) and math.isfinite(text):
            text = repr(text)
        if not isinstance(text, str):
            raise ValueError(f"expected MAJOR.MINOR such as 4.5, or 'newest'; known: {_versions_text()}")
        value = text.strip().lower()
        if value in ("", "newest", "auto"):
            return None
        match = re.fullmatch(r"(\d)\.(\d)", value)
        if not match:
            raise ValueError(f"expected MAJOR.MINOR such as 4.5, or 'newest'; known: {_versions_text()}")
        version = (int(match.group(1)), int(match.group(2)))
    if version not in GL_VERSIONS:
        raise ValueError(
            f"there is no OpenGL version {version[0]}.{version[1]} this plugin can request; "
            f"expected one of {_versions_text()} or 'newest'"
        )
    return version


def parse_size(text: str) -> tuple[int, int]:
    """``"256x256"`` -> ``(256, 256)``."""
    match = re.fullmatch(r"\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*", text) if isinstance(text, str) else None
    if not match or not (0 < int(match.group(1)) <= 16384 and 0 < int(match.group(2)) <= 16384):
        raise ValueError("expected WIDTHxHEIGHT such as 256x256")
    return int(match.group(1)), int(match.group(2))


_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def _bytes_text(count: int) -> str:
    return f"{count:,} bytes"


def parse_bytes(value: str | int | float) -> int:
    """A byte count: an int, or a string such as ``"256 KiB"``, ``"1 MB"``, ``"65536"``.

    Finite, from 0 to :data:`MAX_BYTES` (1 PiB); anything else raises ``ValueError`` (never
    ``OverflowError``).
    """
    if isinstance(value, bool):
        raise ValueError("expected a byte count, not a boolean")
    if isinstance(value, (int, float)):
        number: float | int = value
    else:
        match = re.fullmatch(r"\s*(\d{1,20}(?:\.\d{1,20})?)\s*([a-zA-Z]*)\s*", str(value))
        if not match or match.group(2).lower() not in _UNITS:
            too_long = re.fullmatch(r"\s*\d{21,}(?:\.\d*)?\s*[a-zA-Z]*\s*", str(value))
            if too_long:
                raise ValueError(f"a byte count must be at most 1 PiB ({_bytes_text(MAX_BYTES)})")
            raise ValueError("expected a byte count such as 65536, '256 KiB' or '1 MB'")
        number = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("a byte count must be a finite number")
    if number < 0:
        raise ValueError("a byte count cannot be negative")
    if number > MAX_BYTES:
        raise ValueError(f"a byte count must be at most 1 PiB ({_bytes_text(MAX_BYTES)})")
    return int(number)


def parse_fraction(text: str | float) -> float:
    """``"10%"`` or ``"0.1"`` -> 0.1; finite, from 0 to :data:`MAX_TOLERANCE` (10000%)."""
    if isinstance(text, bool):
        raise ValueError("expected a fraction such as 0.1 or a percentage such as 10%, not a boolean")
    if isinstance(text, (int, float)):
        number = float(text)
    else:
        value = str(text).strip()
        try:
            number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
        except ValueError:
            raise ValueError("expected a fraction such as 0.1 or a percentage such as 10%") from None
    if not math.isfinite(number):
        raise ValueError("a tolerance must be a finite number")
    if number < 0:
        raise ValueError("a tolerance cannot be negative")
    if number > MAX_TOLERANCE:
        raise ValueError(f"a tolerance must be at most {MAX_TOLERANCE:g} ({MAX_TOLERANCE * 100:g}%)")
    return number


def parse_positive_int(text: str | int) -> int:
    """A whole number from 0 to :data:`MAX_STACK_DEPTH`."""
    if isinstance(text, bool):
        raise ValueError("expected a whole number, not a boolean")
    if isinstance(text, int):
        number = text
    else:
        if not isinstance(text, str) or not re.fullmatch(r"\s*[+-]?\d{1,12}\s*", text):
            raise ValueError("expected a whole number")
        number = int(text.strip())
    if not 0 <= number <= MAX_STACK_DEPTH:
        raise ValueError(f"expected a whole number from 0 to {MAX_STACK_DEPTH}")
    return number


def parse_auto_switch(text: str | bool) -> str:
    """``"auto"``, or a boolean as ``"on"`` / ``"off"`` (see :func:`parse_bool`)."""
    if isinstance(text, str) and text.strip().lower() == "auto":
        return "auto"
    try:
        return "on" if parse_bool(text) else "off"
    except ValueError:
        raise ValueError("expected auto, or one of 1/true/yes/on or 0/false/no/off") from None


def parse_path(text: str) -> str | None:
    """A file path, or None for an empty one."""
    if not isinstance(text, str):
        raise ValueError("expected a file path (a string)")
    return text.strip() or None


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters so a runaway value cannot flood an error message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}...({len(text):,} chars)"
