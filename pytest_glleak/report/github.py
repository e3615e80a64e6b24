"""GitHub Actions output: ``::error`` workflow commands at leak sites, and a markdown step summary.

Pure logic, no pytest: every function takes the ``--glleak-json`` document (a plain dict). Paths are
relative to the repository root (``GITHUB_WORKSPACE`` on a runner), so GitHub shows each annotation on
the line of the pull request's diff that created the leaked object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_glleak.report.locations import (
    GrowthFailure,
    LeakLocation,
    failing_tests,
    growth_failures,
    kinds_phrase,
    leak_locations,
    leaked_items,
)
from pytest_glleak.report.run import leak_count
from pytest_glleak.report.text import format_bytes, kind_phrase

#: Rows of the step summary's tables.
SUMMARY_ROWS = 10


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, ``\\r`` and ``\\n`` escaped as GitHub requires."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: :func:`escape_data` plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(
    command: str, message: str, *, file: str | None = None, line: int | None = None, title: str | None = None
) -> str:
    """``::error file=a.py,line=3,title=T::message``, every part escaped."""
    properties = []
    if file is not None:
        properties.append(f"file={escape_property(file)}")
        if line:
            properties.append(f"line={line}")
    if title is not None:
        properties.append(f"title={escape_property(title)}")
    head = f"::{command}"
    if properties:
        head += " " + ",".join(properties)
    return f"{head}::{escape_data(message)}"


def _tests_text(tests: tuple[str, ...]) -> str:
    return "\n".join(f"- {nodeid}" for nodeid in tests)


def leak_command(location: LeakLocation) -> str:
    """The ``::error`` command of one leak site: counts, where they were created, and the tests."""
    plural = "s" if len(location.tests) != 1 else ""
    estimate = f" ({format_bytes(location.bytes)} estimated)" if location.bytes else ""
    message = (
        f"{kinds_phrase(location.kinds)} leaked{estimate}, created at {location.site}(), "
        f"by {len(location.tests)} test{plural}:\n{_tests_text(location.tests)}"
    )
    return workflow_command(
        "error",
        message,
        file=location.path,
        line=location.line or None,
        title=f"glleak: {kinds_phrase(location.kinds)} leaked",
    )


def growth_command(failure: GrowthFailure) -> str:
    """The ``::error`` command of a test whose memory grew beyond its limit."""
    message = (
        f"{failure.nodeid}: memory grew {failure.per_iteration:,} bytes per repetition "
        f"(limit {failure.limit:,})"
    )
    return workflow_command(
        "error", message, file=failure.path, line=failure.line, title="glleak: memory growth"
    )


def workflow_commands(
    doc: Mapping[str, Any],
    repository: str,
    rootdir: str | None = None,
    test_lines: Mapping[str, int] | None = None,
) -> list[str]:
    """Every workflow command of a run: one per leak site, then one per test whose memory grew.

    ``repository``: the directory paths are made relative to (``GITHUB_WORKSPACE``); ``rootdir``: the
    pytest rootdir (where node ids start); ``test_lines``: node id -> line of the test function.
    """
    tests = failing_tests(doc)
    commands = [leak_command(location) for location in leak_locations(tests, repository, rootdir)]
    commands.extend(
        growth_command(failure) for failure in growth_failures(tests, repository, rootdir, test_lines)
    )
    return commands


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _amount(count: int, noun: str, size: int) -> str:
    text = f"{count:,} {noun}{'' if count == 1 else 's'}"
    return f"{text} ({format_bytes(size)} estimated)" if size else text


def step_summary(doc: Mapping[str, Any], repository: str, rootdir: str | None = None) -> str:
    """The markdown appended to ``$GITHUB_STEP_SUMMARY``: counts, worst offenders, top sites."""
    summary = doc.get("summary") or {}
    tests = failing_tests(doc)
    checked = int(summary.get("tests_checked", 0))
    leaked = int(summary.get("tests_leaked", 0))
    grown = int(summary.get("tests_grew", 0))
    known = int(summary.get("tests_known", 0))
    lines = ["## pytest-glleak", ""]
    if not tests:
        lines.append(f"No leaks or memory growth in {checked} checked test{'s' * (checked != 1)}.")
        if known:
            lines.append(
                f"{known} test{'s' * (known != 1)} leaked only what the known-leak baseline accepts."
            )
        return "\n".join(lines) + "\n"
    gl_objects = int(summary.get("leaked_gl_objects", 0))
    buffers = int(summary.get("leaked_image_buffers", 0))
    headline = f"**{leaked} leaked, {grown} grew** of {checked} checked tests ({known} within the baseline)"
    found = [
        _amount(gl_objects, "GL object", int(summary.get("gpu_bytes_leaked", 0))),
        _amount(buffers, "image buffer", int(summary.get("image_bytes_leaked", 0))),
    ]
    lines.append(headline + ": " + ", ".join(found) + ".")
    offenders = sorted(
        tests,
        key=lambda test: (-sum(leak_count(item) for item in leaked_items(test)), str(test.get("nodeid"))),
    )
    lines += ["", "### Worst offenders", "", "| test | leaked | memory per repetition |", "|---|---|---|"]
    for test in offenders[:SUMMARY_ROWS]:
        kinds: dict[str, int] = {}
        for item in leaked_items(test):
            kind = str(item.get("kind", "?"))
            kinds[kind] = kinds.get(kind, 0) + leak_count(item)
        memory = test.get("memory") or {}
        growth = "—"
        if "per_iteration" in memory:
            growth = f"{int(memory['per_iteration']):,} bytes"
            if "limit" in memory:
                growth += f" (limit {int(memory['limit']):,})"
        leaks = ", ".join(kind_phrase(kind, count) for kind, count in sorted(kinds.items())) or "—"
        lines.append(f"| `{_cell(str(test.get('nodeid', '')))}` | {leaks} | {growth} |")
    if len(offenders) > SUMMARY_ROWS:
        lines.append(f"\n… and {len(offenders) - SUMMARY_ROWS} more failing tests.")
    locations = leak_locations(tests, repository, rootdir)
    if locations:
        lines += ["", "### Top creation sites", "", "| site | leaked | tests |", "|---|---|---|"]
        for location in locations[:SUMMARY_ROWS]:
            where = f"{location.path}:{location.line}" if location.path else location.site
            function = f" in {location.function}()" if location.path and location.function else ""
            lines.append(
                f"| `{_cell(where + function)}` | {kinds_phrase(location.kinds)} | {len(location.tests)} |"
            )
        if len(locations) > SUMMARY_ROWS:
            lines.append(f"\n… and {len(locations) - SUMMARY_ROWS} more sites.")
    return "\n".join(lines) + "\n"


def github_annotations_enabled(setting: str, environ: Mapping[str, str]) -> bool:
    """``on``/``off`` as set; ``auto``: only on a GitHub Actions runner (``GITHUB_ACTIONS=true``)."""
    if setting == "auto":
        return environ.get("GITHUB_ACTIONS", "").lower() == "true"
    return setting == "on"
