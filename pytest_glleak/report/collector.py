"""Report glue: status letters, the terminal section, JSON/HTML files and baseline updates.

Runs in the process that logs reports: the only process without xdist, the controller with it. Findings
arrive as plain builtins on teardown reports (``report.glleak``), so both cases take one code path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pytest_glleak.errors import InternalErrors
from pytest_glleak.findings import LeakedImage, TestFindings, share_clean_sections
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.options import Settings
from pytest_glleak.report import baseline as baseline_module
from pytest_glleak.report.atomic import write_text_atomic
from pytest_glleak.report.github import github_annotations_enabled, step_summary, workflow_commands
from pytest_glleak.report.gitlab import codequality_issues, codequality_text
from pytest_glleak.report.html import render_html
from pytest_glleak.report.json_report import build_json, write_json
from pytest_glleak.report.run import RunReport, collect_environment, utc_now
from pytest_glleak.report.terminal import flaky_lines, terminal_lines
from pytest_glleak.report.text import GREW, LEAKED, kind_name
from pytest_glleak.runner import LEAK_SECTION, CheckRunner, orphan_fixtures_key
from pytest_glleak.verdict import FAILING, outcome_of


def _worker(report: pytest.TestReport) -> str | None:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return getattr(gateway, "id", None)


def _is_rerun(report: pytest.TestReport) -> bool:
    """pytest-rerunfailures' report of a failed attempt that it runs again (outcome ``rerun``)."""
    return str(report.outcome) == "rerun"


def environment(config: pytest.Config, provider: ContextProvider, settings: Settings) -> dict[str, Any]:
    """The environment block of the JSON report and the baseline, for this process."""
    from pytest_glleak.gl import pyopengl_platform

    return collect_environment(
        provider.context,
        pyopengl_platform=pyopengl_platform() or "default",
        mode=settings.mode,
        contexts_recreated=provider.contexts_recreated,
    )


class ReportCollector:
    """Collects findings from reports, prints the report, writes files, updates the baseline."""

    def __init__(
        self,
        config: pytest.Config,
        settings: Settings,
        provider: ContextProvider,
        baseline: baseline_module.Baseline | None,
        internal: InternalErrors,
    ) -> None:
        self.config = config
        self.internal = internal
        self.settings = settings
        self.provider = provider
        self.baseline = baseline
        self.run = RunReport()
        self._unshown_leaks: list[tuple[str, str]] = []
        self._outcomes: dict[str, str] = {}
        self._worker_environment: dict[str, Any] | None = None
        self._baseline_changes: list[str] | None = None
        self._written: list[str] = []
        self._write_errors: list[str] = []
        self._ran: list[str] = []
        self._failed_by_check: set[str] = set()
        self._started = time.monotonic()

    # --- per-test ----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        # A checked test's status is decided after its teardown: its passing call report is not
        # counted, its teardown report is (PASSED, or LEAKED / GREW when the check failed it). Counts and
        # durations stay pytest's own: nothing is removed from the terminal reporter's stats.
        if not getattr(report, "glleak_deferred", False) or _is_rerun(report):
            return None  # a rerun attempt keeps pytest-rerunfailures' status (R, RERUN)
        if report.when == "call" and report.passed:
            return "", "", ""
        if report.when == "teardown":
            if getattr(report, "glleak_failed", False):
                findings = getattr(report, "glleak", None) or {}
                if findings.get("verdict") == "grew":
                    return "error", "G", GREW  # memory growth alone: one word for it everywhere
                return "error", "L", LEAKED
            if report.passed:
                return "passed", ".", "PASSED"
        return None

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[Any]) -> None:
        """pytest-html: a test the check failed is one Error row, as in the terminal and JUnit.

        pytest-html lists a test's passing call and its failing teardown as two rows (Passed + Error);
        the call row of a test whose teardown check failed is dropped (an empty ``cells`` list is
        pytest-html's documented way to drop a row). pytest-html builds a test's rows once its teardown is
        logged, after :meth:`pytest_runtest_logreport` (``tryfirst``) recorded the verdict.
        """
        if (
            report.when == "call"
            and report.passed
            and getattr(report, "glleak_deferred", False)
            and report.nodeid in self._failed_by_check
        ):
            del cells[:]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        try:
            self._log(report)
        except Exception as exc:  # bookkeeping of ours must never end the session
            self.internal.record("pytest_runtest_logreport", exc)

    def _log(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        rerun = _is_rerun(report)
        if report.when == "call":
            self._outcomes[nodeid] = (
                "failed" if report.failed or rerun else ("skipped" if report.skipped else "passed")
            )
            return
        if report.when == "setup":
            if report.failed or rerun:
                self._outcomes[nodeid] = "error"
            elif report.skipped:
                self._outcomes[nodeid] = "skipped"
            return
        findings: TestFindings | None = getattr(report, "glleak", None)
        before_teardown = self._outcomes.pop(nodeid, "error")
        if before_teardown not in ("skipped", "error"):
            self._ran.append(nodeid)  # tests that did not really run keep their baseline entries
        for fixture in getattr(report, "glleak_fixtures", None) or []:
            self._add_fixture(fixture, _worker(report))
        if findings is None:
            return
        share_clean_sections(findings)  # under xdist each report arrives with its own copies
        # A teardown error that is only the leaks of fixtures finalized there is not the test's own.
        fixture_only = bool(getattr(report, "glleak_fixture_failed", False))
        failed_by_check = bool(getattr(report, "glleak_failed", False)) and not fixture_only
        if failed_by_check:
            self._failed_by_check.add(nodeid)
        if findings.get("verdict") in FAILING and not failed_by_check and not report.failed:
            # The test failed for its own reason; pytest shows no section of a passing teardown, so
            # the leaks are printed in the terminal summary.
            text = next((content for name, content in report.sections if name == LEAK_SECTION), None)
            if text:
                self._unshown_leaks.append((nodeid, text))
        outcome = outcome_of(
            before_teardown,
            findings.get("verdict"),
            failed_by_check,
            (report.failed and not fixture_only) or rerun,
        )
        self.run.add(
            findings, outcome, process_rss=getattr(report, "glleak_rss", None), worker=_worker(report)
        )

    def _add_fixture(self, findings: TestFindings, worker: str | None) -> None:
        """A wider-scoped fixture's pseudo-entry. Under xdist each worker that used the fixture checks
        its own instance: one entry per fixture, the worst verdict kept."""
        verdict = findings.get("verdict")
        outcome = "leaked" if verdict in FAILING else ("known" if verdict == "known" else "passed")
        nodeid = findings.get("nodeid", "")
        self._ran.append(nodeid)
        existing = self.run.get(nodeid)
        if existing is not None and (existing.outcome == "leaked" or outcome == "passed"):
            return
        self.run.replace(findings, outcome, worker=worker)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._started = time.monotonic()
        self.run.created = utc_now()

    # --- end of run -------------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        """The run's ``--glleak-json`` document as it stands (for the CI outputs)."""
        return build_json(self.run)

    def pytest_keyboard_interrupt(self) -> None:
        self.run.partial = True

    def _environment(self) -> dict[str, Any]:
        env = self._worker_environment or environment(self.config, self.provider, self.settings)
        workers = getattr(self.config.option, "numprocesses", None)
        if workers:
            env = {**env, "xdist_workers": workers}
        return env

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        orphans = self._orphan_fixtures()
        if hasattr(self.config, "workerinput"):
            output = self.config.workeroutput  # type: ignore[attr-defined]
            output["glleak_environment"] = environment(self.config, self.provider, self.settings)
            # Fixtures finalized after the worker's last test: no report carries them (plain builtins).
            output["glleak_fixtures"] = [findings for findings, _text in orphans]
            output["glleak_internal_errors"] = self.internal.as_dict()
            return
        for findings, _text in orphans:
            self._add_fixture(findings, None)
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.run.partial = True
        self.run.environment = self._environment()
        self.run.duration_s = time.monotonic() - self._started
        self.run.args = [str(arg) for arg in self.config.invocation_params.args]
        self.run.pytest_version = pytest.__version__
        self.run.internal_errors = self.internal.count
        if self.internal.count and self.settings.strict_internal and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        doc = build_json(self.run)
        if self.settings.json:
            self._write_output("JSON report", self.settings.json, lambda path: write_json(path, doc))
        if self.settings.html:
            self._write_output(
                "HTML report", self.settings.html, lambda path: write_text_atomic(path, render_html(doc))
            )
        if self.settings.baseline_update and self.settings.baseline and not self.run.partial:
            crashed = set(self.run.crashed)
            ran = [nodeid for nodeid in self._ran if nodeid not in crashed]
            results = [record.findings for record in self.run.checked()]
            updated, changes = baseline_module.updated_baseline(
                self.baseline, results, ran, self.run.environment, root=str(self.config.rootpath)
            )
            if self._write_output(
                "baseline",
                self.settings.baseline,
                lambda path: baseline_module.write_baseline(path, updated),
                announce=False,
            ):
                self._baseline_changes = changes
        elif self.settings.baseline_update and not self.settings.baseline:
            self._written.append(
                "glleak: --glleak-baseline-update needs --glleak-baseline=PATH; nothing written"
            )
        if session.exitstatus == pytest.ExitCode.OK and any(
            record.outcome == "leaked" for record in self.run.records if record.findings.get("fixture")
        ):
            # A fixture's leak found outside a test's teardown (or one no report carried) still gates.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.run.flaky_leaks and session.exitstatus == pytest.ExitCode.OK:
            # A leak that disappeared on a rerun is still a leak of the code under test.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self._write_errors and session.exitstatus == pytest.ExitCode.OK:
            # A run whose report could not be written must not look green to CI.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _orphan_fixtures(self) -> list[tuple[TestFindings, str]]:
        """Findings of the fixtures finalized outside any test's teardown (pytest finalizes what is left
        in its own ``pytest_sessionfinish``, which runs before this trylast one)."""
        runner = self.config.pluginmanager.get_plugin("glleak-runner")
        try:
            if isinstance(runner, CheckRunner):
                return runner.finish_orphans()
        except Exception as exc:  # bookkeeping of ours must never end the session
            self.internal.record("checking fixtures finalized after the last test", exc)
        found: list[tuple[TestFindings, str]] = self.config.stash.get(orphan_fixtures_key, [])
        return list(found)

    def _write_output(
        self, label: str, path: str, write: Callable[[str], None], *, announce: bool = True
    ) -> bool:
        """Write one output; a failure becomes an error line of the summary, not a traceback.

        The other outputs are still written and the terminal summary (FAILURES, short summary) still
        printed; ``pytest_sessionfinish`` then makes a passing run's exit status 1.
        """
        try:
            write(path)
        except Exception as exc:  # one output must not hide the others or the results
            reason = str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
            self._write_errors.append(f"glleak: ERROR: could not write the {label} to {path}: {reason}")
            return False
        if announce:
            self._written.append(f"glleak: {label} written to {path}")
        return True

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        verbose = self.config.get_verbosity() > 0
        if self.settings.report:
            terminalreporter.section("glleak report")
            for line in terminal_lines(self.run, verbose=verbose):
                terminalreporter.line(line)
        if self._baseline_changes is not None:
            terminalreporter.section("glleak baseline")
            terminalreporter.line(f"glleak: baseline {self.settings.baseline} updated")
            for line in self._baseline_changes or ["no changes"]:
                terminalreporter.line(f"  {line}")
        for line in self._written:
            terminalreporter.line(line)
        for line in self._write_errors:
            terminalreporter.line(line, red=True, bold=True)
        if self._unshown_leaks:
            terminalreporter.section("glleak: leaks of tests that failed for another reason")
            for nodeid, text in self._unshown_leaks:
                terminalreporter.line(f"{nodeid}:")
                for line in text.splitlines():
                    terminalreporter.line(f"  {line}")
        fixture_leaks = [
            record
            for record in self.run.records
            if record.findings.get("fixture") and record.outcome == "leaked"
        ]
        if fixture_leaks:
            terminalreporter.section(
                "glleak: leaks of wider-scoped fixtures (checked when their scope ended)"
            )
            for record in fixture_leaks:
                terminalreporter.line(str(record.findings.get("message")), red=True)
                for leak in record.findings.get("gl", {}).get("leaked", []):
                    frames = leak.get("create_site") or []
                    site = f" created at {frames[0]['file']}:{frames[0]['line']}" if frames else ""
                    terminalreporter.line(f"  - {leak['kind']} {leak['name']}{site}")
                for image in record.findings.get("images", {}).get("leaked", []):
                    terminalreporter.line(f"  - {_image_line(image)}")
        if self.run.flaky_leaks:
            terminalreporter.section("glleak: flaky leaks (leaked on an earlier attempt, not on the rerun)")
            for record in self.run.flaky_leaks:
                terminalreporter.line(f"{record.findings.get('nodeid')}:", red=True)
                for line in flaky_lines(record):
                    terminalreporter.line(f"  {line}")
        for line in self.internal.summary_lines():
            terminalreporter.line(line, yellow=True)


class XdistHooks:
    """pytest-xdist's controller hooks; registered only when xdist is installed, since pluggy refuses
    implementations of hooks nobody declared (a plain ``pip install`` has no xdist)."""

    def __init__(self, collector: ReportCollector) -> None:
        self.collector = collector

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        try:
            output = getattr(node, "workeroutput", {}) or {}
            collector = self.collector
            if output.get("glleak_environment") and collector._worker_environment is None:
                collector._worker_environment = output["glleak_environment"]
            worker = str(getattr(node, "workerinput", {}).get("workerid", "")) or None
            for findings in output.get("glleak_fixtures") or []:
                collector._add_fixture(findings, worker)
            errors = output.get("glleak_internal_errors") or {}
            collector.internal.add(
                int(errors.get("count", 0)), errors.get("first"), f"worker {errors.get('where')}"
            )
        except Exception as exc:
            self.collector.internal.record("pytest_testnodedown", exc)

    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        try:
            self.collector.run.mark_crashed(crashitem, worker=_worker(report))
        except Exception as exc:
            self.collector.internal.record("pytest_handlecrashitem", exc)


def report_header_lines(
    settings: Settings, baseline: baseline_module.Baseline | None, env: dict[str, Any]
) -> list[str]:
    """Header lines about the baseline: a renderer mismatch warning, or how to create a missing one."""
    lines: list[str] = []
    if settings.baseline and baseline is None and not settings.baseline_update:
        lines.append(baseline_module.missing_baseline_message(settings.baseline))
    if baseline is not None:
        warning = baseline_module.environment_mismatch(baseline, env)
        if warning:
            lines.append(warning)
    return lines


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
        if not (self.github or self.settings.codequality):
            return  # only those outputs use them: a long run keeps nothing per test for nothing
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


def _image_line(image: LeakedImage) -> str:
    """``Pillow image RGBA 1024x1024 (4,194,304 bytes) created at test_x.py:7, held by dict in module x``."""
    shape = "x".join(str(n) for n in image.get("shape") or [])
    parts = (kind_name(str(image.get("kind") or "")), image.get("mode") or image.get("dtype"), shape)
    what = " ".join(str(part) for part in parts if part)
    frames = image.get("create_site") or []
    site = f" created at {frames[0]['file']}:{frames[0]['line']}" if frames else ""
    held = f", held by {image['held_by']}" if image.get("held_by") else ""
    return f"{what} ({int(image.get('bytes') or 0):,} bytes){site}{held}"
