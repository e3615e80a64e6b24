"""Atomic writes of the JSON/HTML reports and the baseline: all or nothing, no temporary files left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pytest_glleak.atomic import write_bytes_atomic, write_text_atomic


def test_write_creates_parents_and_leaves_only_the_target(tmp_path: Path) -> None:
    target = tmp_path / "out" / "nested" / "report.json"
    write_text_atomic(target, '{"é": 1}\n')
    assert target.read_bytes() == '{"é": 1}\n'.encode()
    assert os.listdir(target.parent) == ["report.json"]


def test_rewrite_replaces_content_and_keeps_permission_bits(tmp_path: Path) -> None:
    target = tmp_path / "baseline.json"
    target.write_text("old")
    target.chmod(0o640)
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_new_file_gets_the_umask_mode_not_the_private_temp_mode(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    previous = os.umask(0o022)
    try:
        write_bytes_atomic(target, b"<html></html>")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_failed_rename_leaves_the_old_target_and_no_temporary_file(tmp_path: Path) -> None:
    # A directory cannot be replaced by a file: a real failure at the last step.
    target = tmp_path / "report.json"
    target.mkdir()
    (target / "keep.txt").write_text("kept")
    with pytest.raises(OSError):
        write_text_atomic(target, "{}")
    assert (target / "keep.txt").read_text() == "kept"
    assert os.listdir(tmp_path) == ["report.json"]


def test_an_interrupted_write_does_not_clobber_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("previous complete report")
    before = target.stat().st_mtime_ns

    def interrupted(descriptor: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C between writing and renaming

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(target, "half of a new report")
    monkeypatch.undo()
    assert target.read_text() == "previous complete report"
    assert target.stat().st_mtime_ns == before
    assert os.listdir(tmp_path) == ["report.json"]


def test_an_unwritable_directory_is_an_os_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("file")
    with pytest.raises(OSError):
        write_text_atomic(blocker / "report.json", "{}")
    assert blocker.read_text() == "file"
