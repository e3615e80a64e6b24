"""Safe writes of the JSON/HTML reports and the baseline: atomic for files, through symlinks, in place for
streams (devices, FIFOs, descriptors); no temporary files left."""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest

from pytest_glleak.report.atomic import OutputTarget, resolve_target, write_bytes_atomic, write_text_atomic


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


# --- symlinks and streams: written through, never replaced ------------------------------------------------
def _listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real_dir = tmp_path / "committed"
    real_dir.mkdir()
    real = real_dir / "baseline.json"
    real.write_text("old")
    real.chmod(0o640)
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    link = link_dir / "baseline.json"
    link.symlink_to(os.path.relpath(real, link_dir))
    write_text_atomic(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    # The temporary file lived next to the real file, and is gone.
    assert _listing(real_dir) == ["baseline.json"]
    assert _listing(link_dir) == ["baseline.json"]


def test_a_chain_of_symlinks_and_a_symlinked_directory_reach_the_real_file(tmp_path: Path) -> None:
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    (tmp_path / "dirlink").symlink_to(real_dir)
    (real_dir / "report.json").write_text("old")
    (tmp_path / "second").symlink_to(tmp_path / "dirlink" / "report.json")
    (tmp_path / "first").symlink_to("second")
    write_text_atomic(tmp_path / "first", "new")
    assert (real_dir / "report.json").read_text() == "new"
    assert (tmp_path / "first").is_symlink() and (tmp_path / "second").is_symlink()
    assert resolve_target(tmp_path / "first") == OutputTarget(str(real_dir / "report.json"), stream=False)


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "report.json"
    link.symlink_to(tmp_path / "out" / "report.json")
    write_text_atomic(link, "{}")
    assert link.is_symlink()
    assert (tmp_path / "out" / "report.json").read_text() == "{}"


def test_a_symlink_loop_is_an_os_error(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError):
        write_text_atomic(tmp_path / "a", "{}")
    assert (tmp_path / "a").is_symlink()


def _mknod_char(path: Path, minor: int) -> None:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("creating a character device needs root")


def test_a_character_device_is_written_in_place_not_replaced(tmp_path: Path) -> None:
    device = tmp_path / "null"
    _mknod_char(device, 3)  # the same device as /dev/null
    write_text_atomic(device, "{}")
    assert stat.S_ISCHR(device.stat().st_mode)
    assert _listing(tmp_path) == ["null"]
    assert resolve_target(device).stream


def test_a_full_device_raises_enospc_and_stays_a_device(tmp_path: Path) -> None:
    device = tmp_path / "full"
    _mknod_char(device, 7)  # the same device as /dev/full
    with pytest.raises(OSError) as excinfo:
        write_text_atomic(device, "{}")
    assert excinfo.value.errno == errno.ENOSPC
    assert stat.S_ISCHR(device.stat().st_mode)
    assert _listing(tmp_path) == ["full"]


def test_a_fifo_is_streamed_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    payload = b"x" * 200_000  # more than a pipe buffer: several writes
    write_bytes_atomic(fifo, payload)
    reader.join(timeout=10)
    assert received == [payload]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize("template", ["/dev/fd/{fd}", "/proc/self/fd/{fd}", "/proc/{pid}/fd/{fd}"])
def test_a_descriptor_link_writes_to_that_descriptor(tmp_path: Path, template: str) -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")
    log = tmp_path / "log.txt"
    with log.open("wb") as stream:
        stream.write(b"before\n")
        stream.flush()
        path = template.format(fd=stream.fileno(), pid=os.getpid())
        assert resolve_target(path).stream
        write_bytes_atomic(path, b"{}\n")
        stream.write(b"after\n")  # goes after the report, as with `> log.txt`
    assert log.read_bytes() == b"before\n{}\nafter\n"
    assert _listing(tmp_path) == ["log.txt"]


def test_dev_stdout_is_a_stream_and_stays_a_link() -> None:
    if not os.path.islink("/dev/stdout"):
        pytest.skip("no /dev/stdout link")
    assert resolve_target("/dev/stdout") == OutputTarget("/dev/stdout", stream=True)


def test_dot_dot_in_a_link_target_is_resolved_after_the_links_before_it(tmp_path: Path) -> None:
    (tmp_path / "d1" / "d2").mkdir(parents=True)
    (tmp_path / "sub").symlink_to("d1/d2")
    (tmp_path / "report.json").symlink_to("sub/../real.json")  # sub/.. is d1, not tmp_path
    write_text_atomic(tmp_path / "report.json", "{}")
    assert (tmp_path / "d1" / "real.json").read_text() == "{}"
    assert not (tmp_path / "real.json").exists()
