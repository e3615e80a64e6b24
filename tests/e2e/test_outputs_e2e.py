"""Output files never break the user's run: bad paths stop it at configure, writes go through symlinks and
into streams, and a failed write is an error line that leaves every other result in place."""

from __future__ import annotations

import json
import os
import stat
import threading

import pytest


def _full_device(pytester: pytest.Pytester) -> str:
    """A disk-full device: a private copy of /dev/full when we may create one (root), else /dev/full.

    As root, a regression that replaced the target would otherwise replace the machine's /dev/full.
    """
    try:
        os.mknod(pytester.path / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        return "/dev/full"
    return "full"


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def _assert_usage_error(result: pytest.RunResult, *fragments: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert "ERROR: pytest-glleak: " in text
    for fragment in fragments:
        assert fragment in text
    assert "Traceback" not in text + result.stdout.str()


# --- repro 04: an unwritable path is a usage error before any test runs ------------------------------------
def test_a_path_under_a_file_is_a_usage_error_before_tests_run(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_m.py")
    (pytester.path / "afile").write_text("")
    result = _run(pytester, "--glleak-json=afile/out.json")
    _assert_usage_error(
        result, "--glleak-json=afile/out.json: cannot write there:", "afile is not a directory"
    )
    assert not (pytester.path / "ran.txt").exists()


def test_a_directory_as_the_html_path_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_m.py")
    (pytester.path / "report.html").mkdir()
    result = _run(pytester, "--glleak-html=report.html")
    _assert_usage_error(
        result, "--glleak-html=report.html: cannot write there:", "report.html is a directory"
    )
    assert not (pytester.path / "ran.txt").exists()


# --- repro 13: colliding paths ------------------------------------------------------------------------------
def test_the_json_report_cannot_overwrite_the_baseline(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_b.py")
    record = _run(pytester, "--glleak-baseline=base.json", "--glleak-baseline-update")
    assert record.ret == pytest.ExitCode.OK
    before = (pytester.path / "base.json").read_bytes()
    for extra in ((), ("--glleak-baseline-update",)):
        result = _run(pytester, "--glleak-baseline=base.json", "--glleak-json=./base.json", *extra)
        _assert_usage_error(
            result, "--glleak-json=./base.json and --glleak-baseline=base.json are the same file"
        )
        assert (pytester.path / "base.json").read_bytes() == before


def test_json_and_html_on_one_path_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_b.py")
    result = _run(pytester, "--glleak-json=same.out", "--glleak-html=same.out")
    _assert_usage_error(result, "--glleak-json=same.out and --glleak-html=same.out are the same file")
    assert not (pytester.path / "same.out").exists()


def test_a_path_from_the_ini_file_is_checked_too(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_b.py")
    pytester.makeini("[pytest]\nglleak_json = report.out\n")
    result = _run(pytester, "--junitxml=report.out")
    _assert_usage_error(result, "ini key glleak_json=report.out and --junitxml=report.out are the same file")


# --- repro 14: symlinks, devices, FIFOs, descriptors ------------------------------------------------------
def test_a_symlinked_report_updates_the_real_file(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_b.py")
    real_dir = pytester.path / "reports"
    real_dir.mkdir()
    (real_dir / "report.json").write_text("stale")
    (pytester.path / "out.json").symlink_to("reports/report.json")
    result = _run(pytester, "--glleak-json=out.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (pytester.path / "out.json").is_symlink()
    doc = json.loads((real_dir / "report.json").read_text())
    assert [test["nodeid"] for test in doc["tests"]] == ["test_b.py::test_leak"]
    assert sorted(os.listdir(real_dir)) == ["report.json"]


def test_a_symlinked_baseline_is_updated_through_the_link(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_clean.py").rename(pytester.path / "test_b.py")
    committed = pytester.path / "committed"
    committed.mkdir()
    assert _run(pytester, "--glleak-baseline=committed/base.json", "--glleak-baseline-update").ret == 0
    (pytester.path / "base.json").symlink_to("committed/base.json")
    pytester.copy_example("outputs/test_b.py")
    assert _run(pytester, "--glleak-baseline=committed/base.json").ret == pytest.ExitCode.TESTS_FAILED
    update = _run(pytester, "--glleak-baseline=base.json", "--glleak-baseline-update")
    assert update.ret == pytest.ExitCode.OK
    assert (pytester.path / "base.json").is_symlink()
    # The real file got the leak: a run against it now passes.
    assert _run(pytester, "--glleak-baseline=committed/base.json").ret == pytest.ExitCode.OK


def test_a_character_device_is_written_in_place(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_b.py")
    device = pytester.path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        device.symlink_to("/dev/null")
    result = _run(pytester, "--glleak-json=null")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["glleak: JSON report written to null"])
    assert stat.S_ISCHR(device.stat().st_mode)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_fifo_is_streamed_to_its_reader(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_b.py")
    fifo = pytester.path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = _run(pytester, "--glleak-json=report.fifo")
    reader.join(timeout=30)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [test["nodeid"] for test in json.loads(received[0])["tests"]] == ["test_b.py::test_leak"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_standard_output_gets_the_report_between_the_terminal_lines(pytester: pytest.Pytester) -> None:
    # /dev/fd/1 rather than /dev/stdout: a regression cannot replace /dev/fd/1 (it lives in /proc), while
    # as root it would replace the machine's /dev/stdout. resolve_target("/dev/stdout") is unit-tested.
    if not os.path.isdir("/dev/fd"):
        pytest.skip("no /dev/fd")
    pytester.copy_example("outputs/test_b.py")
    (pytester.path / "stdout.json").symlink_to("/proc/self/fd/1")
    result = _run(pytester, "--glleak-json=/dev/fd/1", "--glleak-html=stdout.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert (pytester.path / "stdout.json").is_symlink()
    text = result.stdout.str()
    assert text.count('"environment": {') == 1 and text.count("<html") == 1
    # The reports come between the terminal lines: neither overwrote the other.
    result.stdout.fnmatch_lines(
        [
            "test_b.py L*",
            '*"tests": [[]*',
            "*<html*",
            "*= ERRORS =*",
            "*short test summary info*",
            "*1 error*",
        ]
    )


# --- a failed write: error line, other outputs written, results shown, non-zero exit ------------------------
def test_a_full_disk_is_an_error_line_and_fails_a_passing_run(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_clean.py").rename(pytester.path / "test_c.py")
    full = _full_device(pytester)
    result = _run(pytester, f"--glleak-json={full}", "--glleak-html=report.html")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "glleak: HTML report written to report.html",
            f"glleak: ERROR: could not write the JSON report to {full}: [[]Errno 28[]] No space left on device",
            "*1 passed*",
        ]
    )
    assert "<html" in (pytester.path / "report.html").read_text()
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_failed_write_keeps_failures_and_the_short_summary(pytester: pytest.Pytester) -> None:
    pytester.copy_example("outputs/test_b.py")
    full = _full_device(pytester)
    result = _run(pytester, f"--glleak-json={full}", "--glleak-html=report.html", "-rA")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*= ERRORS =*",
            "*1 GL object leaked (1 texture)*",
            f"glleak: ERROR: could not write the JSON report to {full}:*",
            "*short test summary info*",
            "LEAKED test_b.py::test_leak - leaked 1 texture",
            "*1 error*",
        ]
    )
    assert (pytester.path / "report.html").exists()
    assert stat.S_ISCHR((pytester.path / full).stat().st_mode)


def test_a_path_broken_after_configure_is_an_error_line(pytester: pytest.Pytester) -> None:
    # The output directory exists at configure time; the test replaces it with a file.
    pytester.makepyfile(
        test_c="""
        import os

        def test_breaks_the_output_directory():
            os.rmdir("out")
            open("out", "w").close()
        """
    )
    (pytester.path / "out").mkdir()
    result = _run(pytester, "--glleak-json=out/report.json", "--glleak-html=report.html")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["glleak: ERROR: could not write the JSON report to out/report.json: *", "*1 passed*"]
    )
    assert (pytester.path / "report.html").exists()
