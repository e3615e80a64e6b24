"""Safe file writes for reports and baselines: atomic for files, in place for streams, through symlinks.

Where a path leads is decided by :func:`resolve_target`:

* a regular file, or a path that does not exist yet, is written **atomically**: the bytes go to a temporary
  file in the real target's own directory (so ``os.replace`` stays on one file system), are flushed and
  fsynced, then renamed over the target. A reader sees the old file or the new one, never half of one. An
  existing file keeps its permission bits; on any failure the temporary file is removed and the target is
  left as it was. Missing parent directories are created.
* a **symlink** is followed: the real file is the one written, and the link stays a link.
* a **stream** is written in place, never replaced: an existing non-regular file (character device such as
  ``/dev/null``, FIFO, socket) and anything reached through a file-descriptor link (``/dev/stdout``,
  ``/dev/stderr``, ``/dev/fd/N``, ``/proc/...``). A descriptor of this process (``/dev/stdout``,
  ``/proc/self/fd/N``) is written through that descriptor, after flushing ``sys.stdout`` and
  ``sys.stderr``, so the bytes land between the terminal output before and after, as with ``print``. Any
  other stream is opened for writing without truncation (``O_APPEND``) and the bytes are streamed into it;
  a FIFO waits for its reader.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import re
import stat
import sys
import tempfile

__all__ = ["OutputTarget", "resolve_target", "write_bytes_atomic", "write_text_atomic"]

_MAX_LINKS = 40


@dataclasses.dataclass(frozen=True)
class OutputTarget:
    """Where a write to a path really goes.

    ``path`` is the file that is written: the path with every symlink resolved, except for a stream (see
    ``stream``), which keeps the path the kernel must open (``/proc/self/fd/1`` cannot be resolved to a
    name). ``stream`` is true when the target is written in place rather than replaced.
    """

    path: str
    stream: bool


def _through_descriptor(path: str) -> bool:
    # /dev/stdout -> /proc/self/fd/1 -> "pipe:[123]": such links name an open file description, not a path.
    return path.startswith(("/proc/", "/dev/fd/", "/dev/stdout", "/dev/stderr", "/dev/stdin"))


def resolve_target(path: str | os.PathLike[str]) -> OutputTarget:
    """Resolve ``path`` for writing: follow its symlinks and say whether it is a stream.

    Raises ``OSError`` (``ELOOP``) on a symlink loop.
    """
    current = os.path.abspath(os.fspath(path))
    for _ in range(_MAX_LINKS):
        if _through_descriptor(current):
            return OutputTarget(current, stream=True)
        parent = os.path.realpath(os.path.dirname(current))
        current = os.path.join(parent, os.path.basename(current))
        if _through_descriptor(current):
            return OutputTarget(current, stream=True)
        if not os.path.islink(current):
            try:
                mode = os.stat(current).st_mode
            except OSError:
                return OutputTarget(current, stream=False)
            stream = not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)
            return OutputTarget(current, stream=stream)
        current = os.path.join(parent, os.readlink(current))  # ".." is resolved by realpath next turn
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fspath(path))


def _default_mode(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        # mkstemp creates 0600; a report or a committed baseline should get the usual umask mode.
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


_OWN_DESCRIPTOR = re.compile(r"/(?:dev/fd|proc/(?:self|thread-self|(?P<pid>\d+))/fd)/(?P<fd>\d+)")


def _own_descriptor(path: str) -> int | None:
    """The descriptor number of this process that ``path`` names (``/dev/stdout`` is 1), or None."""
    named = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
    if path in named:
        return named[path]
    match = _OWN_DESCRIPTOR.fullmatch(path)
    if match is None or (match["pid"] is not None and int(match["pid"]) != os.getpid()):
        return None
    return int(match["fd"])


def _write_all(descriptor: int, payload: bytes, path: str) -> None:
    view = memoryview(payload)
    while view:
        written = os.write(descriptor, view)
        if not written:
            raise OSError(errno.EIO, f"short write to {path}")
        view = view[written:]


def _write_stream(path: str, payload: bytes) -> None:
    own = _own_descriptor(path)
    if own is not None:
        # Write to the open descriptor itself: reopening /proc/self/fd/1 would get a new file offset, and
        # a file behind `> log.txt` would be overwritten by the terminal output that follows.
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        _write_all(own, payload, path)
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        _write_all(descriptor, payload, path)
    finally:
        os.close(descriptor)


def write_bytes_atomic(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to ``path``: atomically for files, through symlinks, in place for streams.

    See the module docstring for where the bytes go. Raises ``OSError`` when they cannot be written; then,
    for a file, neither a temporary file nor a partial target is left behind.
    """
    target = resolve_target(path)
    if target.stream:
        _write_stream(target.path, payload)
        return
    if os.path.isdir(target.path):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target.path)
    directory = os.path.dirname(target.path)
    os.makedirs(directory, exist_ok=True)
    mode = _default_mode(target.path)
    descriptor, temporary = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(target.path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target.path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def write_text_atomic(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` (see :func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, text.encode(encoding))


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows), so best effort.
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
