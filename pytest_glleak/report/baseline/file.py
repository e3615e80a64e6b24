"""Reading and writing the baseline file: strict validation with messages that name the problem, and
the canonical, diff-friendly text written atomically."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from pytest_glleak.findings import GL_KINDS
from pytest_glleak.report.atomic import write_text_atomic
from pytest_glleak.report.baseline.entries import (
    BASELINE_FORMAT,
    BASELINE_VERSION,
    DEFAULT_TOLERANCE,
    LEAK_KINDS,
    BaselineEntry,
    BaselineError,
    KnownGrowth,
    KnownLeak,
)
from pytest_glleak.report.baseline.matching import Baseline


class _Corrupt(Exception):
    pass


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise _Corrupt(problem)


def _objects(raw: dict[str, Any], key: str, where: str) -> Iterator[tuple[str, Any]]:
    """(where it is, the object) for each item of the list ``raw[key]`` (absent: none)."""
    items = raw.get(key, [])
    _expect(isinstance(items, list), f"{where}.{key} is not a list")
    for index, value in enumerate(items):
        item = f"{where}.{key}[{index}]"
        _expect(isinstance(value, dict), f"{item} is not an object")
        yield item, value


def _expect_site(item: str, site: Any) -> None:
    _expect(isinstance(site, str) and bool(site), f"{item}.site must be a string 'file:line in function'")


def _parse_entry(nodeid: str, raw: Any) -> BaselineEntry:
    where = f"tests[{nodeid!r}]"
    _expect(isinstance(raw, dict), f"{where} is not an object")
    leaks: list[KnownLeak] = []
    for item, leak in _objects(raw, "leaks", where):
        kind, site, count = leak.get("kind"), leak.get("site"), leak.get("count")
        _expect(isinstance(kind, str) and bool(kind), f"{item}.kind must be a non-empty string")
        _expect(
            kind in LEAK_KINDS,
            f"{item}.kind {kind!r} is not a known leak kind (GL kinds such as 'texture', or "
            f"{', '.join(sorted(LEAK_KINDS - set(GL_KINDS)))})",
        )
        _expect_site(item, site)
        _expect(
            isinstance(count, int) and not isinstance(count, bool) and count > 0,
            f"{item}.count must be a positive integer, not {count!r}",
        )
        leaks.append(KnownLeak(kind=str(kind), site=str(site), count=int(count)))
    memory = raw.get("memory", {})
    _expect(isinstance(memory, dict), f"{where}.memory is not an object")
    for figure, value in memory.items():
        _expect(
            isinstance(value, int) and not isinstance(value, bool),
            f"{where}.memory.{figure} must be an integer, not {value!r}",
        )
    grew_at: list[KnownGrowth] = []
    for item, growth in _objects(raw, "grew_at", where):
        what, site, amount = growth.get("what"), growth.get("site"), growth.get("bytes_per_iteration")
        _expect(isinstance(what, str) and bool(what), f"{item}.what must be a non-empty string")
        _expect_site(item, site)
        _expect(
            isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0,
            f"{item}.bytes_per_iteration must be a non-negative integer, not {amount!r}",
        )
        grew_at.append(KnownGrowth(what=str(what), site=str(site), bytes_per_iteration=int(amount)))
    unknown = set(raw) - {"leaks", "memory", "grew_at"}
    _expect(not unknown, f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    return BaselineEntry(leaks=tuple(leaks), memory=dict(memory), grew_at=tuple(grew_at))


def parse_baseline(
    document: Any, tolerance: float = DEFAULT_TOLERANCE, path: str | None = None, root: str | None = None
) -> Baseline:
    """Build a :class:`Baseline` from a parsed JSON document; ``ValueError`` names the problem."""
    try:
        _expect(isinstance(document, dict), "the top level is not a JSON object")
        _expect(
            document.get("format") == BASELINE_FORMAT,
            f"'format' is {document.get('format')!r}, expected {BASELINE_FORMAT!r}",
        )
        version = document.get("format_version")
        _expect(
            isinstance(version, int) and not isinstance(version, bool),
            f"'format_version' is {version!r}, expected an integer",
        )
        _expect(
            version <= BASELINE_VERSION,
            f"format_version {version} was written by a newer pytest-glleak (this one reads "
            f"{BASELINE_VERSION})",
        )
        environment = document.get("environment", {})
        _expect(isinstance(environment, dict), "'environment' is not an object")
        tests = document.get("tests")
        _expect(isinstance(tests, dict), "'tests' is missing or not an object")
        entries = {str(nodeid): _parse_entry(str(nodeid), raw) for nodeid, raw in tests.items()}
    except _Corrupt as problem:
        raise ValueError(str(problem)) from None
    return Baseline(entries=entries, environment=dict(environment), tolerance=tolerance, path=path, root=root)


def load_baseline(
    path: str | os.PathLike[str], tolerance: float = DEFAULT_TOLERANCE, root: str | None = None
) -> Baseline | None:
    """Read the baseline file; None when it does not exist.

    ``root`` (the pytest rootdir) makes creation-site paths relative, as :func:`updated_baseline` wrote
    them; ``tolerance`` is the relative slack on memory-growth figures.

    A file that cannot be read or is not a valid baseline raises :class:`BaselineError` naming the file
    and the problem. The file is only read, never modified.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _usage_error(name, f"cannot be read ({exc.strerror or exc})") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _usage_error(name, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise _usage_error(name, f"is not valid JSON ({exc.msg} at {where})") from None
    try:
        return parse_baseline(document, tolerance=tolerance, path=name, root=root)
    except ValueError as exc:
        raise _usage_error(name, f"is not a pytest-glleak baseline: {exc}") from None


def _usage_error(path: str, problem: str) -> BaselineError:
    return BaselineError(
        f"glleak: the known-leak baseline {path} {problem}. The file was left untouched; fix it, or "
        f"delete it and recreate it with --glleak-baseline={path} --glleak-baseline-update."
    )


def missing_baseline_message(path: str | os.PathLike[str]) -> str:
    """The hint for a first run: the baseline file does not exist yet, and how to create it."""
    name = os.fspath(path)
    return (
        f"glleak: no known-leak baseline at {name}, so every leak counts as new. To accept the current "
        f"leaks, run once with --glleak-baseline={name} --glleak-baseline-update and commit the file."
    )


def environment_mismatch(baseline: Baseline, environment: Mapping[str, Any]) -> str | None:
    """A warning line for the report header when the baseline was recorded on another renderer."""
    recorded = baseline.environment.get("renderer")
    current = environment.get("renderer")
    if not recorded or not current or recorded == current:
        return None
    where = f" {baseline.path}" if baseline.path else ""
    return (
        f"glleak: WARNING: the baseline{where} was recorded on renderer {recorded!r}, this run uses "
        f"{current!r}; known leaks and byte estimates may differ (re-record with --glleak-baseline-update)"
    )


def baseline_text(baseline: Baseline) -> str:
    """The canonical file text: sorted keys, two-space indent, trailing newline (diff-friendly)."""
    return json.dumps(baseline.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_baseline(path: str | os.PathLike[str], baseline: Baseline) -> None:
    """Write the baseline file atomically."""
    write_text_atomic(path, baseline_text(baseline))
