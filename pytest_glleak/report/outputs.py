"""Checks of the output paths at configure time, so that a bad path stops the run before any test runs.

Pure logic, no pytest: :func:`output_problems` returns sentences; ``plugin.pytest_configure`` raises them as
one usage error (exit code 4). Each output (``--glleak-json``, ``--glleak-html``, and the baseline when
``--glleak-baseline-update`` is given) must be writable where :mod:`pytest_glleak.report.atomic` will write
it, and no two of them, nor an output and the baseline that is read, may be the same file.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterable, Mapping

from pytest_glleak.options import OPTIONS_BY_NAME, Settings
from pytest_glleak.report.atomic import OutputTarget, resolve_target

__all__ = ["NamedPath", "named_outputs", "output_problems", "settings_problems"]


@dataclasses.dataclass(frozen=True)
class NamedPath:
    """A path and what set it: ``"--glleak-json"``, or ``"ini key glleak_json"`` / ``"environment variable
    PYTEST_GLLEAK_JSON"`` when it came from there."""

    name: str
    path: str


def _name(settings: Settings, option: str) -> str:
    source = settings.sources.get(option, "")
    if source.startswith(("ini key ", "environment variable ")):
        return source
    return OPTIONS_BY_NAME[option].flag


def named_outputs(settings: Settings) -> list[NamedPath]:
    """The files this run writes: the JSON, HTML and Code Quality reports, and the baseline when it is
    updated."""
    outputs = []
    if settings.json:
        outputs.append(NamedPath(_name(settings, "json"), settings.json))
    if settings.html:
        outputs.append(NamedPath(_name(settings, "html"), settings.html))
    if settings.codequality:
        outputs.append(NamedPath(_name(settings, "codequality"), settings.codequality))
    if settings.baseline and settings.baseline_update:
        outputs.append(NamedPath(_name(settings, "baseline"), settings.baseline))
    return outputs


def _writable_directory(directory: str) -> str | None:
    """Why files cannot be created in ``directory`` (or its missing parents), or None when they can."""
    ancestor = directory
    while not os.path.lexists(ancestor):
        parent = os.path.dirname(ancestor)
        if parent == ancestor:
            break
        ancestor = parent
    if not os.path.isdir(ancestor):
        return f"{ancestor} is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"directory {ancestor} is not writable"
    return None


def _path_problem(output: NamedPath) -> str | None:
    try:
        target = resolve_target(output.path)
    except OSError as exc:
        return f"cannot resolve it: {exc}"
    if target.stream:
        if not os.path.exists(target.path):
            return f"{target.path} does not exist"
        if not os.access(target.path, os.W_OK):
            return f"{target.path} is not writable"
        return None
    if os.path.isdir(target.path):
        return f"{target.path} is a directory"
    # Files are replaced atomically: a temporary file is created next to the real target.
    return _writable_directory(os.path.dirname(target.path))


def _identity(target: OutputTarget) -> tuple[str, tuple[int, int] | None]:
    try:
        status = os.stat(target.path)
    except OSError:
        return target.path, None
    return target.path, (status.st_dev, status.st_ino) if stat.S_ISREG(status.st_mode) else None


def _same_file(first: OutputTarget, second: OutputTarget) -> bool:
    if first.stream and second.stream:
        return False  # two reports streamed to /dev/stdout, one after the other: allowed
    (first_path, first_inode), (second_path, second_inode) = _identity(first), _identity(second)
    return first_path == second_path or (first_inode is not None and first_inode == second_inode)


def output_problems(
    outputs: Iterable[NamedPath], inputs: Iterable[NamedPath] = (), extra: Mapping[str, str] | None = None
) -> list[str]:
    """Sentences saying why ``outputs`` cannot be written as asked; empty when they can.

    ``inputs`` are files read by the run (the baseline without ``--glleak-baseline-update``) that no output
    may overwrite; ``extra`` maps other plugins' output options to their paths (``--junitxml``), checked for
    collisions only.
    """
    outputs = list(outputs)
    problems: list[str] = []
    resolved: list[tuple[NamedPath, OutputTarget]] = []
    for output in outputs:
        problem = _path_problem(output)
        if problem is not None:
            problems.append(f"{output.name}={output.path}: cannot write there: {problem}")
            continue
        resolved.append((output, resolve_target(output.path)))
    others: list[tuple[NamedPath, OutputTarget]] = []
    for other in [*inputs, *(NamedPath(name, path) for name, path in (extra or {}).items() if path)]:
        try:
            others.append((other, resolve_target(other.path)))
        except OSError:
            continue
    for index, (output, target) in enumerate(resolved):
        for other, other_target in [*resolved[index + 1 :], *others]:
            if _same_file(target, other_target):
                problems.append(
                    f"{output.name}={output.path} and {other.name}={other.path} are the same file "
                    f"({target.path}): one would overwrite the other; give them different paths"
                )
    return problems


def settings_problems(settings: Settings, extra: Mapping[str, str] | None = None) -> list[str]:
    """:func:`output_problems` for a run's settings."""
    inputs = []
    if settings.baseline and not settings.baseline_update:
        inputs.append(NamedPath(_name(settings, "baseline"), settings.baseline))
    return output_problems(named_outputs(settings), inputs, extra)
