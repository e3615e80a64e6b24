"""What a baseline file records: its format constants, leak-site keys and the accepted entries."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from pytest_glleak.findings import GL_KINDS, Frame
from pytest_glleak.report.run import IMAGE_KINDS
from pytest_glleak.sites import portable_path

BASELINE_FORMAT = "pytest-glleak-baseline"
BASELINE_VERSION = 1
DEFAULT_TOLERANCE = 0.10
UNKNOWN_SITE = "<unknown site>"


class BaselineError(ValueError):
    """The baseline file cannot be read or is not a valid baseline; the message names the file and the fix."""


#: Environment keys copied into the file; ``renderer`` decides the mismatch warning.
ENVIRONMENT_KEYS = ("backend", "vendor", "renderer", "gl_version", "profile", "python", "platform")

#: Every leak kind a baseline may record: the GL kinds and the image-buffer kinds (``bytes`` is a
#: traced buffer the image tracker reports besides the report's ordered ``IMAGE_KINDS``).
LEAK_KINDS: frozenset[str] = frozenset(GL_KINDS) | frozenset(IMAGE_KINDS) | {"bytes"}

_SITE = re.compile(r"^(?P<file>.*):(?P<line>\d+) in (?P<function>.*)$")


def site_key(frames: list[Frame] | None, root: str | None = None) -> str:
    """``"viewer/render.py:88 in upload"`` from a creation site's innermost frame (see
    :func:`portable_path` for the file part)."""
    if not frames:
        return UNKNOWN_SITE
    frame = frames[0]
    file = portable_path(str(frame.get("file", "<unknown>")), root)
    return f"{file}:{frame.get('line', 0)} in {frame.get('function', '?')}"


def site_shown(site: str) -> str:
    return site if site == UNKNOWN_SITE else site + "()"


def moved_key(site: str) -> tuple[str, str] | None:
    # A site whose line moved (an edit above it) is matched on (file, function).
    match = _SITE.match(site)
    return (match.group("file"), match.group("function")) if match else None


@dataclasses.dataclass(frozen=True)
class KnownLeak:
    """Up to ``count`` leaked objects of ``kind`` created at ``site`` are accepted."""

    kind: str
    site: str
    count: int


@dataclasses.dataclass(frozen=True)
class KnownGrowth:
    """Up to ``bytes_per_iteration`` of growth per repetition of ``what`` (``python``, ``numpy``, a GL kind
    or an image kind) at ``site`` is accepted."""

    what: str
    site: str
    bytes_per_iteration: int


@dataclasses.dataclass(frozen=True)
class BaselineEntry:
    """What one test is allowed to leak and grow."""

    leaks: tuple[KnownLeak, ...] = ()
    memory: Mapping[str, int] = dataclasses.field(default_factory=dict)
    grew_at: tuple[KnownGrowth, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The entry as it is stored in the file."""
        ordered = sorted(self.leaks, key=lambda leak: (leak.kind, leak.site))
        document: dict[str, Any] = {
            "leaks": [{"kind": leak.kind, "site": leak.site, "count": leak.count} for leak in ordered]
        }
        if self.memory:
            document["memory"] = dict(sorted(self.memory.items()))
        if self.grew_at:
            document["grew_at"] = [
                {"what": growth.what, "site": growth.site, "bytes_per_iteration": growth.bytes_per_iteration}
                for growth in sorted(self.grew_at, key=lambda growth: (growth.what, growth.site))
            ]
        return document


@dataclasses.dataclass(frozen=True)
class BaselineVerdict:
    """How one test's findings compare with the baseline.

    ``known``: notes on leaks and growth the baseline accepts; ``regressions``: reasons the test fails
    (a new leak, a leak from a new site, a higher count, growth beyond the tolerance).
    """

    known: tuple[str, ...] = ()
    regressions: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when nothing regressed."""
        return not self.regressions
