"""The known-leak baseline: a committed JSON file of accepted leaks, for adopting the gate gradually.

File format (``format_version`` 1), keys sorted, one entry per test that leaked or grew::

    {
      "format": "pytest-glleak-baseline",
      "format_version": 1,
      "environment": {"renderer": "llvmpipe (LLVM 15.0.6, 256 bits)", "vendor": "Mesa", ...},
      "tests": {
        "tests/test_view.py::test_upload": {
          "leaks": [{"kind": "texture", "site": "viewer/render.py:88 in upload", "count": 3}],
          "memory": {"per_iteration": 1048576},
          "grew_at": [{"what": "numpy", "site": "viewer/cache.py:40 in load", "bytes_per_iteration": 1048576}]
        }
      }
    }

A leak's ``site`` is the innermost frame of its creation site, ``file:line in function``. A test's
leaks pass when each (kind, site) is in its entry with at least the count seen; growth figures pass
within a relative tolerance. ``grew_at`` (optional) keys a test's memory growth by where it grows (the
growth diagnosis: Python/NumPy allocation sites, GL kinds and image kinds with their creation sites): when
the test grows again, growth at a recorded site passes within the tolerance, and growth at any other site
is a regression, whatever the total. No pytest imports: ``load_baseline`` raises :class:`BaselineError`,
which the plugin turns into a usage error.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_glleak.findings import GL_KINDS, Frame, TestFindings
from pytest_glleak.report.atomic import write_text_atomic
from pytest_glleak.report.run import IMAGE_KINDS, gl_leaks, image_leaks, leak_count
from pytest_glleak.report.text import kind_phrase
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


def leak_counts(findings: Mapping[str, Any], root: str | None = None) -> dict[tuple[str, str], int]:
    """(kind, site) -> count of the leaked GL objects and image buffers in one test's findings."""
    counts: dict[tuple[str, str], int] = {}
    items: list[Mapping[str, Any]] = [*gl_leaks(findings), *image_leaks(findings)]
    for item in items:
        key = (str(item.get("kind", "?")), site_key(item.get("create_site"), root))
        counts[key] = counts.get(key, 0) + leak_count(item)
    return counts


def grew(memory: Mapping[str, Any]) -> bool:
    if "per_iteration" not in memory or "limit" not in memory:
        return False
    return int(memory["per_iteration"]) > int(memory["limit"])


def growth_sites(memory: Mapping[str, Any], root: str | None = None) -> dict[tuple[str, str], int]:
    """(what, site) -> bytes per repetition, from a growth diagnosis (``grew_at``, ``gl_per_iteration``,
    ``images_per_iteration``); ``what`` is ``python``/``numpy``, a GL kind or an image kind."""
    found: dict[tuple[str, str], int] = {}
    for site in memory.get("grew_at") or []:
        key = (str(site.get("domain", "python")), site_key(site.get("stack") or [site], root))
        found[key] = found.get(key, 0) + int(site.get("bytes_per_iteration", 0))
    for row in [*(memory.get("gl_per_iteration") or []), *(memory.get("images_per_iteration") or [])]:
        key = (str(row.get("kind", "?")), site_key(row.get("create_site"), root))
        found[key] = found.get(key, 0) + int(row.get("bytes", 0))
    return found


@dataclasses.dataclass
class Baseline:
    """The accepted leaks of a suite: node id -> :class:`BaselineEntry`."""

    entries: dict[str, BaselineEntry] = dataclasses.field(default_factory=dict)
    environment: dict[str, Any] = dataclasses.field(default_factory=dict)
    tolerance: float = DEFAULT_TOLERANCE
    path: str | None = None
    #: The directory creation-site paths are relative to (the pytest rootdir); None: the working directory.
    root: str | None = None

    def compare(self, findings: TestFindings) -> BaselineVerdict:
        """Compare one test's findings (before their verdict is set) with its entry."""
        nodeid = findings.get("nodeid", "")
        entry = self.entries.get(nodeid, BaselineEntry())
        known: list[str] = []
        regressions: list[str] = []
        remaining = {(leak.kind, leak.site): leak.count for leak in entry.leaks}
        unmatched: list[tuple[str, str, int]] = []
        for (kind, site), count in sorted(leak_counts(findings, self.root).items()):
            allowed = remaining.pop((kind, site), None)
            if allowed is None:
                unmatched.append((kind, site, count))
            else:
                self._judge(kind, site, count, allowed, "", known, regressions)
        for kind, site, count in unmatched:
            moved = moved_key(site)
            candidates = [
                key for key in sorted(remaining) if key[0] == kind and moved and moved_key(key[1]) == moved
            ]
            if candidates:
                recorded_site = candidates[0]
                allowed = remaining.pop(recorded_site)
                note = f" (recorded at {site_shown(recorded_site[1])}; the line moved)"
                self._judge(kind, site, count, allowed, note, known, regressions)
            elif nodeid not in self.entries:
                regressions.append(
                    f"new leak: {kind_phrase(kind, count)} created at {site_shown(site)} "
                    "(this test has no baseline entry)"
                )
            else:
                regressions.append(
                    f"new site: {kind_phrase(kind, count)} created at {site_shown(site)} "
                    "(not a known leak site of this test)"
                )
        self._compare_memory(findings.get("memory") or {}, entry, known, regressions)
        return BaselineVerdict(known=tuple(known), regressions=tuple(regressions))

    @staticmethod
    def _judge(
        kind: str, site: str, count: int, allowed: int, note: str, known: list[str], regressions: list[str]
    ) -> None:
        phrase = f"{kind_phrase(kind, count)} created at {site_shown(site)}"
        if count <= allowed:
            known.append(f"{phrase}: known leak (baseline allows {allowed}){note}")
        else:
            regressions.append(f"higher count: {phrase}, the baseline allows {allowed}{note}")

    def _compare_memory(
        self, memory: Mapping[str, Any], entry: BaselineEntry, known: list[str], regressions: list[str]
    ) -> None:
        percent = f"{self.tolerance:.0%}"
        for figure, recorded in sorted(entry.memory.items()):
            if figure not in memory or figure == "limit":
                continue
            value = int(memory[figure])
            ceiling = recorded * (1 + self.tolerance)
            if value > ceiling:
                regressions.append(
                    f"memory {figure}: {value:,} bytes, more than {percent} above the baseline's {recorded:,}"
                )
            elif figure != "per_iteration" or grew(memory):
                known.append(
                    f"memory {figure}: {value:,} bytes, within {percent} of the baseline's {recorded:,}"
                )
        if grew(memory) and entry.grew_at:
            self._compare_growth_sites(memory, entry, known, regressions)
        if grew(memory) and "per_iteration" not in entry.memory:
            regressions.append(
                f"memory growth: {int(memory['per_iteration']):,} bytes per repetition over the limit "
                f"{int(memory['limit']):,} is not in the baseline"
            )

    def _compare_growth_sites(
        self, memory: Mapping[str, Any], entry: BaselineEntry, known: list[str], regressions: list[str]
    ) -> None:
        percent = f"{self.tolerance:.0%}"
        recorded = {(growth.what, growth.site): growth.bytes_per_iteration for growth in entry.grew_at}
        for (what, site), value in sorted(growth_sites(memory, self.root).items()):
            allowed = recorded.get((what, site))
            note = ""
            if allowed is None:
                moved = moved_key(site)
                candidates = [
                    key for key in sorted(recorded) if key[0] == what and moved and moved_key(key[1]) == moved
                ]
                if candidates:
                    allowed = recorded[candidates[0]]
                    note = f" (recorded at {site_shown(candidates[0][1])}; the line moved)"
            shown = f"{what} growth at {site_shown(site)}: {value:,} bytes per repetition"
            if allowed is None:
                regressions.append(
                    f"memory grew at a new site: {shown} (not a known growth site of this test)"
                )
            elif value > allowed * (1 + self.tolerance):
                regressions.append(f"{shown}, more than {percent} above the baseline's {allowed:,}{note}")
            else:
                known.append(f"{shown}: known growth site (baseline allows {allowed:,}){note}")

    def to_json(self) -> dict[str, Any]:
        """The whole file as a JSON document."""
        return {
            "format": BASELINE_FORMAT,
            "format_version": BASELINE_VERSION,
            "environment": {key: self.environment[key] for key in sorted(self.environment)},
            "tests": {nodeid: self.entries[nodeid].to_json() for nodeid in sorted(self.entries)},
        }


# --- reading --------------------------------------------------------------------------------------
class _Corrupt(Exception):
    pass


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise _Corrupt(problem)


def _parse_entry(nodeid: str, raw: Any) -> BaselineEntry:
    where = f"tests[{nodeid!r}]"
    _expect(isinstance(raw, dict), f"{where} is not an object")
    leaks: list[KnownLeak] = []
    raw_leaks = raw.get("leaks", [])
    _expect(isinstance(raw_leaks, list), f"{where}.leaks is not a list")
    for index, leak in enumerate(raw_leaks):
        item = f"{where}.leaks[{index}]"
        _expect(isinstance(leak, dict), f"{item} is not an object")
        kind, site, count = leak.get("kind"), leak.get("site"), leak.get("count")
        _expect(isinstance(kind, str) and bool(kind), f"{item}.kind must be a non-empty string")
        _expect(
            kind in LEAK_KINDS,
            f"{item}.kind {kind!r} is not a known leak kind (GL kinds such as 'texture', or "
            f"{', '.join(sorted(LEAK_KINDS - set(GL_KINDS)))})",
        )
        _expect(isinstance(site, str) and bool(site), f"{item}.site must be a string 'file:line in function'")
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
    raw_growth = raw.get("grew_at", [])
    _expect(isinstance(raw_growth, list), f"{where}.grew_at is not a list")
    for index, growth in enumerate(raw_growth):
        item = f"{where}.grew_at[{index}]"
        _expect(isinstance(growth, dict), f"{item} is not an object")
        what, site, amount = growth.get("what"), growth.get("site"), growth.get("bytes_per_iteration")
        _expect(isinstance(what, str) and bool(what), f"{item}.what must be a non-empty string")
        _expect(isinstance(site, str) and bool(site), f"{item}.site must be a string 'file:line in function'")
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


# --- writing --------------------------------------------------------------------------------------
def _entry_from(findings: Mapping[str, Any], root: str | None) -> BaselineEntry | None:
    leaks = tuple(
        KnownLeak(kind=kind, site=site, count=count)
        for (kind, site), count in sorted(leak_counts(findings, root).items())
    )
    memory_section = findings.get("memory") or {}
    grown = grew(memory_section)
    memory = {"per_iteration": int(memory_section["per_iteration"])} if grown else {}
    grew_at = tuple(
        KnownGrowth(what=what, site=site, bytes_per_iteration=amount)
        for (what, site), amount in sorted(growth_sites(memory_section, root).items())
        if grown
    )
    if not leaks and not memory:
        return None
    return BaselineEntry(leaks=leaks, memory=memory, grew_at=grew_at)


def _describe(entry: BaselineEntry) -> str:
    parts = [f"{kind_phrase(leak.kind, leak.count)} at {site_shown(leak.site)}" for leak in entry.leaks]
    parts.extend(f"memory {figure} {value:,}" for figure, value in sorted(entry.memory.items()))
    parts.extend(
        f"{growth.what} growth {growth.bytes_per_iteration:,} at {site_shown(growth.site)}"
        for growth in entry.grew_at
    )
    return ", ".join(parts)


def _entry_changes(nodeid: str, old: BaselineEntry, new: BaselineEntry) -> list[str]:
    lines: list[str] = []
    old_leaks = {(leak.kind, leak.site): leak.count for leak in old.leaks}
    new_leaks = {(leak.kind, leak.site): leak.count for leak in new.leaks}
    for key in sorted(set(old_leaks) | set(new_leaks)):
        kind, site = key
        before, after = old_leaks.get(key), new_leaks.get(key)
        if before == after:
            continue
        if before is None:
            lines.append(f"changed {nodeid}: + {kind_phrase(kind, after or 0)} at {site_shown(site)}")
        elif after is None:
            lines.append(f"changed {nodeid}: - {kind_phrase(kind, before)} at {site_shown(site)} (fixed)")
        else:
            lines.append(f"changed {nodeid}: {kind} at {site_shown(site)} {before} -> {after}")
    for figure in sorted(set(old.memory) | set(new.memory)):
        before_value, after_value = old.memory.get(figure), new.memory.get(figure)
        if before_value != after_value:
            lines.append(f"changed {nodeid}: memory {figure} {before_value} -> {after_value}")
    old_growth = {(growth.what, growth.site): growth.bytes_per_iteration for growth in old.grew_at}
    new_growth = {(growth.what, growth.site): growth.bytes_per_iteration for growth in new.grew_at}
    for what, site in sorted(set(old_growth) | set(new_growth)):
        before_bytes, after_bytes = old_growth.get((what, site)), new_growth.get((what, site))
        if before_bytes != after_bytes:
            lines.append(
                f"changed {nodeid}: {what} growth at {site_shown(site)} {before_bytes} -> {after_bytes}"
            )
    return lines


def updated_baseline(
    old: Baseline | None,
    run_results: Iterable[TestFindings],
    ran_nodeids: Iterable[str],
    environment: Mapping[str, Any],
    root: str | None = None,
) -> tuple[Baseline, list[str]]:
    """The baseline rewritten from this run, and the human-readable list of what changed.

    ``run_results``: the findings of the tests checked in this run; ``ran_nodeids``: every test that
    ran to completion (checked or not; leave out crashed tests). Entries of tests that did not run
    (``-k``, deselected, crashed) are kept; tests that ran without leaks or growth lose their entry.
    Leave skipped tests out of ``ran_nodeids`` too, or their entries are dropped as "ran clean".
    ``root``: the pytest rootdir, for portable creation-site paths (default: the old baseline's root,
    else the working directory).
    """
    if root is None and old is not None:
        root = old.root
    previous = old.entries if old is not None else {}
    ran = set(ran_nodeids)
    found: dict[str, BaselineEntry] = {}
    for findings in run_results:
        nodeid = findings.get("nodeid", "")
        ran.add(nodeid)
        entry = _entry_from(findings, root)
        if entry is not None:
            found[nodeid] = entry
    entries: dict[str, BaselineEntry] = {}
    changes: list[str] = []
    kept = 0
    for nodeid in sorted(set(previous) | set(found)):
        before, after = previous.get(nodeid), found.get(nodeid)
        if nodeid not in ran:
            assert before is not None
            entries[nodeid] = before
            kept += 1
        elif after is None:
            assert before is not None
            changes.append(f"removed {nodeid} (ran clean)")
        else:
            entries[nodeid] = after
            if before is None:
                changes.append(f"added {nodeid}: {_describe(after)}")
            else:
                changes.extend(_entry_changes(nodeid, before, after))
    if kept:
        changes.append(f"kept {kept} entr{'y' if kept == 1 else 'ies'} of tests that did not run")
    recorded = {key: environment[key] for key in ENVIRONMENT_KEYS if key in environment}
    tolerance = old.tolerance if old is not None else DEFAULT_TOLERANCE
    path = old.path if old is not None else None
    return Baseline(entries=entries, environment=recorded, tolerance=tolerance, path=path, root=root), changes


def baseline_text(baseline: Baseline) -> str:
    """The canonical file text: sorted keys, two-space indent, trailing newline (diff-friendly)."""
    return json.dumps(baseline.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_baseline(path: str | os.PathLike[str], baseline: Baseline) -> None:
    """Write the baseline file atomically."""
    write_text_atomic(path, baseline_text(baseline))
