"""Where a leak or a growth failure is shown in a repository, read from a ``--glleak-json`` document.

Pure logic, no pytest. Frames in the document carry the file names Python ran (absolute paths); CI tools
want paths relative to the repository root. :func:`leak_locations` groups the failing leaks of a run by
the innermost creation-site frame inside the repository; :func:`growth_failures` lists the tests whose
memory grew beyond their limit.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_glleak.report.baseline import grew
from pytest_glleak.report.run import leak_count
from pytest_glleak.report.text import kind_phrase

#: Verdicts whose leaks fail the run (``known`` leaks are accepted by the baseline).
FAILING_VERDICTS = ("leaked", "grew")


def repository_path(file: str, repository: str, rootdir: str | None = None) -> str | None:
    """``file`` relative to ``repository`` with ``/`` separators, or None when it lies outside.

    A relative ``file`` is taken relative to ``rootdir`` (the pytest rootdir, where node ids and portable
    paths start), else to ``repository``.
    """
    if not file or file.startswith("<"):
        return None
    base = os.path.abspath(repository)
    full = file if os.path.isabs(file) else os.path.join(rootdir or base, file)
    try:
        relative = os.path.relpath(os.path.abspath(full), base)
    except ValueError:  # another drive on Windows
        return None
    if relative == os.curdir or relative.startswith(os.pardir):
        return None
    return relative.replace(os.sep, "/")


def nodeid_file(nodeid: str) -> str:
    """The file part of a node id: ``"tests/test_a.py"`` for ``"tests/test_a.py::test_x[1]"``."""
    return nodeid.split("::", 1)[0]


@dataclasses.dataclass(frozen=True)
class LeakLocation:
    """The leaks of a run created at one line of the repository.

    ``path`` is None when no frame of the creation site lies in the repository (then ``line`` is 0);
    ``site`` is the innermost frame as ``file:line in function`` (it may be outside the repository).
    ``kinds`` maps kind -> count; ``tests`` the node ids that leaked there.
    """

    path: str | None
    line: int
    function: str
    site: str
    kinds: Mapping[str, int]
    bytes: int
    tests: tuple[str, ...]

    @property
    def count(self) -> int:
        """How many objects and buffers leaked here."""
        return sum(self.kinds.values())


@dataclasses.dataclass(frozen=True)
class GrowthFailure:
    """A test whose memory grew more per repetition than its ``max_memory_growth`` limit."""

    nodeid: str
    path: str | None
    line: int | None
    per_iteration: int
    limit: int


def leaked_items(test: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The leaked GL objects and image buffers of one test entry."""
    items: list[Mapping[str, Any]] = []
    for section in ("gl", "images"):
        block = test.get(section) or {}
        items.extend(item for item in block.get("leaked") or [] if isinstance(item, Mapping))
    return items


def _frame_text(frame: Mapping[str, Any], path: str | None) -> str:
    return f"{path or frame.get('file', '<unknown>')}:{frame.get('line', 0)} in {frame.get('function', '?')}"


def _place(
    frames: Sequence[Mapping[str, Any]], repository: str, rootdir: str | None
) -> tuple[str | None, int, str, str]:
    """(path, line, function, site text) of the innermost frame inside the repository."""
    if not frames:
        return None, 0, "", "<unknown site>"
    innermost = frames[0]
    site = _frame_text(innermost, repository_path(str(innermost.get("file", "")), repository, rootdir))
    for frame in frames:
        path = repository_path(str(frame.get("file", "")), repository, rootdir)
        if path is not None:
            return path, int(frame.get("line", 0) or 0), str(frame.get("function", "")), site
    return None, 0, str(innermost.get("function", "")), site


def failing_tests(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The test entries whose verdict fails the run (leaked or grew)."""
    return [
        test
        for test in doc.get("tests") or []
        if isinstance(test, Mapping) and test.get("verdict") in FAILING_VERDICTS
    ]


def leak_locations(
    tests: Iterable[Mapping[str, Any]], repository: str, rootdir: str | None = None
) -> list[LeakLocation]:
    """The leaks of ``tests`` grouped by repository line, most leaks first, then by path and line."""
    grouped: dict[tuple[str | None, int, str, str], dict[str, Any]] = {}
    for test in tests:
        nodeid = str(test.get("nodeid", ""))
        for item in leaked_items(test):
            path, line, function, site = _place(item.get("create_site") or [], repository, rootdir)
            entry = grouped.setdefault(
                (path, line, function, site), {"kinds": {}, "bytes": 0, "tests": set()}
            )
            kind = str(item.get("kind", "?"))
            entry["kinds"][kind] = entry["kinds"].get(kind, 0) + leak_count(item)
            entry["bytes"] += int(item.get("bytes", 0) or 0)
            entry["tests"].add(nodeid)
    locations = [
        LeakLocation(
            path=path,
            line=line,
            function=function,
            site=site,
            kinds=dict(sorted(entry["kinds"].items())),
            bytes=entry["bytes"],
            tests=tuple(sorted(entry["tests"])),
        )
        for (path, line, function, site), entry in grouped.items()
    ]
    return sorted(locations, key=lambda loc: (-loc.count, loc.path or "\uffff", loc.line, loc.site))


def growth_failures(
    tests: Iterable[Mapping[str, Any]],
    repository: str,
    rootdir: str | None = None,
    test_lines: Mapping[str, int] | None = None,
) -> list[GrowthFailure]:
    """The tests whose memory grew beyond their limit; ``test_lines`` maps node id -> line of the test
    function (when known, e.g. from the test reports)."""
    failures: list[GrowthFailure] = []
    for test in tests:
        memory = test.get("memory") or {}
        if not grew(memory):
            continue
        nodeid = str(test.get("nodeid", ""))
        failures.append(
            GrowthFailure(
                nodeid=nodeid,
                path=repository_path(nodeid_file(nodeid), repository, rootdir),
                line=(test_lines or {}).get(nodeid),
                per_iteration=int(memory["per_iteration"]),
                limit=int(memory["limit"]),
            )
        )
    return sorted(failures, key=lambda failure: failure.nodeid)


def kinds_phrase(kinds: Mapping[str, int]) -> str:
    """``"2 textures, 1 vertex array"``."""
    return ", ".join(kind_phrase(kind, count) for kind, count in kinds.items())
