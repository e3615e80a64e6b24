"""pytest-glleak's own failures: never an INTERNALERROR, always named, always counted.

No pytest imports. Inside a test's protocol the glue turns any exception of its own into
:class:`PluginError` (that test's error, saying it came from pytest-glleak); outside tests, and inside
the GL hooks where nothing may reach user code, exceptions go to an :class:`InternalErrors` record that
the terminal summary, the JSON report and ``--glleak-strict-internal`` read.
"""

from __future__ import annotations

import traceback

#: Exceptions that keep their meaning wherever they are raised: the user or pytest ending the run.
PASS_THROUGH: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)


class PluginError(Exception):
    """A failure inside pytest-glleak while it checked one test; that test's error, not the session's."""


class UnsupportedDependency(Exception):
    """A dependency version pytest-glleak cannot hook (the message names it); a usage error at start."""


class LeakFailure(Exception):
    """Raised at the end of a test's teardown when its checks found leaks or growth.

    ``text`` is the full failure text, ``message`` the one-line summary, ``location`` the innermost
    creation site (``(file, line)``) when one is known.
    """

    def __init__(self, text: str, message: str, location: tuple[str, int] | None = None) -> None:
        super().__init__(message)
        self.text = text
        self.message = message
        self.location = location


def plugin_error(what: str, nodeid: str, error: BaseException) -> PluginError:
    """A :class:`PluginError` for ``error``, raised while pytest-glleak did ``what`` for test ``nodeid``.

    A plain exception of ours keeps its last traceback lines in the message (it is a bug worth
    reporting); pytest's outcome exceptions (``pytest.fail`` in a hook, a timeout) keep only their text.
    """
    text = f"pytest-glleak: {what} of {nodeid} failed: {type(error).__name__}: {error}"
    if isinstance(error, Exception):
        frames = traceback.format_tb(error.__traceback__)[-3:]
        if frames:
            text += "\n" + "".join(frames).rstrip()
    return PluginError(text)


class InternalErrors:
    """Exceptions pytest-glleak caught in its own code outside a test's verdict (hooks, reports).

    Plain data only: :meth:`as_dict` is what workers send to the controller.
    """

    def __init__(self) -> None:
        self.count = 0
        self.first: str | None = None
        self.first_where: str | None = None

    def record(self, where: str, error: BaseException) -> None:
        """Count ``error`` (caught in ``where``); the first one keeps its traceback text."""
        self.count += 1
        if self.first is None:
            self.first_where = where
            self.first = "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()

    def add(self, count: int, first: str | None, where: str | None) -> None:
        """Merge a count (a worker's, or the GL hooks') into this record."""
        if count <= 0:
            return
        self.count += count
        if self.first is None and first:
            self.first, self.first_where = first, where

    def as_dict(self) -> dict[str, object]:
        """``{"count", "first", "where"}`` as plain builtins."""
        return {"count": self.count, "first": self.first, "where": self.first_where}

    def summary_lines(self) -> list[str]:
        """The terminal-summary warning; empty when nothing was caught."""
        if not self.count:
            return []
        plural = "s" if self.count != 1 else ""
        lines = [
            f"glleak: WARNING: pytest-glleak caught {self.count} internal error{plural} "
            "(its own bug, not your test's; checks may have missed leaks). First one, in "
            f"{self.first_where or 'unknown place'}:"
        ]
        lines.extend("  " + line for line in (self.first or "").splitlines())
        lines.append(
            "glleak: please report it; --glleak-strict-internal makes such errors fail the run in CI."
        )
        return lines


class _CrashLine:
    """The one-line reason pytest prints for ``--tb=line``, the short summary and JUnit's message."""

    def __init__(self, message: str, location: tuple[str, int] | None) -> None:
        self.message = message
        self.path, self.lineno = location if location is not None else ("", 0)

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}" if self.path else self.message


class TextRepr:
    """A report's ``longrepr`` for a leak or a failure of the plugin: the full text, and the one-line
    reason as ``reprcrash`` (pytest reads its ``message`` for the short summary and JUnit, its ``str``
    for ``--tb=line``)."""

    def __init__(self, text: str, message: str, location: tuple[str, int] | None = None) -> None:
        self.text = text
        self.reprcrash = _CrashLine(message, location)

    def toterminal(self, out: object) -> None:
        """Write the full text (pytest passes its terminal writer)."""
        for line in self.text.splitlines():
            out.line(line)  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return self.text
