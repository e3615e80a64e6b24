"""Report glue: status letters, the terminal section, JSON/HTML files and baseline updates.

Runs in the process that logs reports: the only process without xdist, the controller with it. Findings
arrive as plain builtins on teardown reports (``report.glleak``), so both cases take one code path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from pytest_glleak.errors import InternalErrors
from pytest_glleak.findings import TestFindings
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.report import baseline as baseline_module
from pytest_glleak.report.atomic import write_text_atomic
from pytest_glleak.report.html import render_html
from pytest_glleak.report.json_report import build_json, write_json
from pytest_glleak.report.run import RunReport, collect_environment, utc_now
from pytest_glleak.report.terminal import terminal_lines
from pytest_glleak.report.text import GREW, LEAKED
from pytest_glleak.runner import LEAK_SECTION
from pytest_glleak.settings import Settings
from pytest_glleak.verdict import FAILING, outcome_of


def _worker(report: pytest.TestReport) -> str | None:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return getattr(gateway, "id", None)


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
        if not getattr(report, "glleak_deferred", False):
            return None
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
        if report.when == "call":
            self._outcomes[nodeid] = (
                "failed" if report.failed else ("skipped" if report.skipped else "passed")
            )
            return
        if report.when == "setup":
            if report.failed:
                self._outcomes[nodeid] = "error"
            elif report.skipped:
                self._outcomes[nodeid] = "skipped"
            return
        findings: TestFindings | None = getattr(report, "glleak", None)
        before_teardown = self._outcomes.pop(nodeid, "error")
        if before_teardown not in ("skipped", "error"):
            self._ran.append(nodeid)  # tests that did not really run keep their baseline entries
        if findings is None:
            return
        failed_by_check = bool(getattr(report, "glleak_failed", False))
        if failed_by_check:
            self._failed_by_check.add(nodeid)
        if findings.get("verdict") in FAILING and not failed_by_check and not report.failed:
            # The test failed for its own reason; pytest shows no section of a passing teardown, so
            # the leaks are printed in the terminal summary.
            text = next((content for name, content in report.sections if name == LEAK_SECTION), None)
            if text:
                self._unshown_leaks.append((nodeid, text))
        outcome = outcome_of(before_teardown, findings.get("verdict"), failed_by_check, report.failed)
        self.run.add(
            findings, outcome, process_rss=getattr(report, "glleak_rss", None), worker=_worker(report)
        )

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._started = time.monotonic()
        self.run.created = utc_now()

    # --- end of run -------------------------------------------------------------------------------
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
        if hasattr(self.config, "workerinput"):
            output = self.config.workeroutput  # type: ignore[attr-defined]
            output["glleak_environment"] = environment(self.config, self.provider, self.settings)
            output["glleak_internal_errors"] = self.internal.as_dict()
            return
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
        if self._write_errors and session.exitstatus == pytest.ExitCode.OK:
            # A run whose report could not be written must not look green to CI.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

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
