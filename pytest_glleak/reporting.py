"""Report glue: status letters, the terminal section, JSON/HTML files and baseline updates.

Runs in the process that logs reports: the only process without xdist, the controller with it. Findings
arrive as plain builtins on teardown reports (``report.glleak``), so both cases take one code path.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_glleak import baseline as baseline_module
from pytest_glleak.atomic import write_text_atomic
from pytest_glleak.findings import TestFindings
from pytest_glleak.gl.provider import ContextProvider
from pytest_glleak.html_report import render_html
from pytest_glleak.report import RunReport, build_json, collect_environment, terminal_lines, write_json
from pytest_glleak.settings import Settings

LEAK_SECTION = "glleak: leaks"
LEAKED_VERDICTS = ("leaked", "grew")


def _worker(report: pytest.TestReport) -> str | None:
    gateway = getattr(getattr(report, "node", None), "gateway", None)
    return getattr(gateway, "id", None)


class _Crash:
    def __init__(self, message: str) -> None:
        self.message = message


class LeakRepr:
    """A test report's longrepr for a leak: the full text, plus the one-line message of the short summary."""

    def __init__(self, text: str, message: str) -> None:
        self.text = text
        self.reprcrash = _Crash(message)

    def toterminal(self, out: Any) -> None:
        for line in self.text.splitlines():
            out.line(line)

    def __str__(self) -> str:
        return self.text


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
    ) -> None:
        self.config = config
        self.settings = settings
        self.provider = provider
        self.baseline = baseline
        self.run = RunReport()
        self._calls: dict[str, pytest.TestReport] = {}
        self._outcomes: dict[str, str] = {}
        self._worker_environment: dict[str, Any] | None = None
        self._baseline_changes: list[str] | None = None
        self._written: list[str] = []
        self._ran: list[str] = []

    # --- per-test ----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        findings = getattr(report, "glleak", None)
        if (
            report.when == "teardown"
            and report.failed
            and findings
            and findings.get("verdict") in LEAKED_VERDICTS
        ):
            return "failed", "L", "LEAKED"
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        nodeid = report.nodeid
        if report.when == "call":
            self._calls[nodeid] = report
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
        call = self._calls.pop(nodeid, None)
        outcome = self._outcomes.pop(nodeid, "error")
        if outcome not in ("skipped", "error"):
            self._ran.append(nodeid)  # tests that did not really run keep their baseline entries
        if findings is None:
            return
        verdict = findings.get("verdict")
        if verdict in LEAKED_VERDICTS:
            section = getattr(report, "glleak_section", None)
            if section and call is not None:
                # The test failed for its own reason: that stays the outcome, the leaks become a section.
                call.sections.append((LEAK_SECTION, section))
            elif report.failed:
                report.longrepr = LeakRepr(  # type: ignore[assignment]
                    str(report.longrepr), findings.get("message", "leaked")
                )
                self._uncount_passed_call(call)
                outcome = "leaked"
        elif verdict == "known" and outcome == "passed":
            outcome = "known"
        if report.when == "teardown" and report.failed and verdict not in LEAKED_VERDICTS:
            outcome = "error"
        self.run.add(
            findings, outcome, process_rss=getattr(report, "glleak_rss", None), worker=_worker(report)
        )

    def _uncount_passed_call(self, call: pytest.TestReport | None) -> None:
        # A passed call plus a leaked teardown is one failed test, not "1 failed, 1 passed".
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if call is None or not call.passed or reporter is None:
            return
        passed = reporter.stats.get("passed", [])
        if call in passed:
            passed.remove(call)

    # --- xdist (hooks only called when xdist is active) ---------------------------------------
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}) or {}
        if output.get("glleak_environment") and self._worker_environment is None:
            self._worker_environment = output["glleak_environment"]

    def pytest_handlecrashitem(self, crashitem: str, report: pytest.TestReport, sched: Any) -> None:
        self.run.mark_crashed(crashitem, worker=_worker(report))

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
            self.config.workeroutput["glleak_environment"] = environment(  # type: ignore[attr-defined]
                self.config, self.provider, self.settings
            )
            return
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            self.run.partial = True
        self.run.environment = self._environment()
        doc = build_json(self.run)
        if self.settings.json:
            write_json(self.settings.json, doc)
            self._written.append(f"glleak: JSON report written to {self.settings.json}")
        if self.settings.html:
            write_text_atomic(self.settings.html, render_html(doc))
            self._written.append(f"glleak: HTML report written to {self.settings.html}")
        if self.settings.baseline_update and self.settings.baseline and not self.run.partial:
            crashed = set(self.run.crashed)
            ran = [nodeid for nodeid in self._ran if nodeid not in crashed]
            results = [record.findings for record in self.run.checked()]
            updated, changes = baseline_module.updated_baseline(
                self.baseline, results, ran, self.run.environment, root=str(self.config.rootpath)
            )
            baseline_module.write_baseline(self.settings.baseline, updated)
            self._baseline_changes = changes
        elif self.settings.baseline_update and not self.settings.baseline:
            self._written.append(
                "glleak: --glleak-baseline-update needs --glleak-baseline=PATH; nothing written"
            )

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
