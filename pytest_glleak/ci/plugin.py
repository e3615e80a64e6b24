"""CI glue: GitHub Actions annotations and step summary, GitLab Code Quality, at the end of the run.

Registered by ``plugin.pytest_configure`` on the controller only (never on an xdist worker). Reads the
run's ``--glleak-json`` document through ``document`` (the report collector's accessor), so CI outputs
show exactly what the JSON report says.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_glleak.atomic import write_text_atomic
from pytest_glleak.ci.github import step_summary, workflow_commands
from pytest_glleak.ci.gitlab import codequality_issues, codequality_text
from pytest_glleak.errors import InternalErrors
from pytest_glleak.settings import Settings


def github_annotations_enabled(setting: str, environ: Mapping[str, str]) -> bool:
    """``on``/``off`` as set; ``auto``: only on a GitHub Actions runner (``GITHUB_ACTIONS=true``)."""
    if setting == "auto":
        return environ.get("GITHUB_ACTIONS", "").lower() == "true"
    return setting == "on"


class CIOutputs:
    """Writes the CI outputs of a run; every failure is a line of the summary, never a traceback."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        document: Callable[[], Mapping[str, Any]],
        internal: InternalErrors,
    ) -> None:
        self.config = config
        self.settings = settings
        self.document = document
        self.internal = internal
        self.github = github_annotations_enabled(settings.github_annotations, os.environ)
        self._test_lines: dict[str, int] = {}
        self._commands: list[str] = []
        self._lines: list[str] = []
        self._errors: list[str] = []

    @property
    def rootdir(self) -> str:
        return str(self.config.rootpath)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # The line of the test function, for growth annotations (location is 0-based; may be absent).
        if report.when == "setup" and report.location[1] is not None:
            self._test_lines[report.nodeid] = int(report.location[1]) + 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not (self.github or self.settings.codequality):
            return
        try:
            doc = self.document()
        except Exception as exc:
            self.internal.record("building the CI outputs", exc)
            return
        if self.github:
            self._github(doc)
        if self.settings.codequality:
            self._codequality(doc, self.settings.codequality)
        if self._errors and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a missing CI report must not look green

    def _github(self, doc: Mapping[str, Any]) -> None:
        workspace = os.environ.get("GITHUB_WORKSPACE") or self.rootdir
        try:
            self._commands = workflow_commands(doc, workspace, self.rootdir, self._test_lines)
        except Exception as exc:
            self.internal.record("building the GitHub annotations", exc)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if not summary_path:
            return
        try:
            text = step_summary(doc, workspace, self.rootdir)
            with open(summary_path, "a", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as exc:
            self._errors.append(
                f"glleak: ERROR: could not append the GitHub step summary to {summary_path}: {exc}"
            )
        except Exception as exc:
            self.internal.record("writing the GitHub step summary", exc)

    def _codequality(self, doc: Mapping[str, Any], path: str) -> None:
        repository = os.environ.get("CI_PROJECT_DIR") or self.rootdir
        try:
            text = codequality_text(codequality_issues(doc, repository, self.rootdir, self._test_lines))
            write_text_atomic(path, text)
        except OSError as exc:
            self._errors.append(f"glleak: ERROR: could not write the Code Quality report to {path}: {exc}")
        except Exception as exc:
            self.internal.record("writing the Code Quality report", exc)
        else:
            self._lines.append(f"glleak: Code Quality report written to {path}")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        # Workflow commands must start their line, unstyled: GitHub reads them from the job's stdout.
        for command in self._commands:
            terminalreporter.write_line(command)
        for line in self._lines:
            terminalreporter.write_line(line)
        for line in self._errors:
            terminalreporter.write_line(line, red=True, bold=True)
