"""One writer at a time per data directory, across processes.

Every command that writes the embedded index (`index`, `reindex`, `delete`, and `serve` while
it indexes the samples into an empty index) holds an exclusive `flock` on
`<data_dir>/.write.lock` for as long as it writes; searches never take it. A second writer
waits for the first up to IMR_SEARCH_LOCK_TIMEOUT seconds, then gives up with `WriterBusy`.
The holder writes its pid into the file, for that message. The kernel drops the lock when its
holder exits, however it exits (a killed writer leaves no stale lock behind).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".write.lock"
_POLL_SECONDS = 0.05


class WriterBusy(Exception):
    """Another process held the writer lock for longer than we were willing to wait."""

    def __init__(self, root: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "pid unknown"
        super().__init__(
            f"another imr-search process is writing to '{root}' ({holder}); "
            "try again when it has finished"
        )
        self.pid = pid


@contextmanager
def writer_lock(root: Path, timeout: float) -> Iterator[bool]:
    """Hold the writer lock of the data directory `root`, waiting up to `timeout` seconds for
    another writer; yield whether a lock is held. Where the lock file cannot be made (a
    read-only data directory, or none yet) no process can write, and none is taken: the store
    then reports why it cannot write."""
    fd, writable = _open(Path(root) / LOCK_NAME)
    if fd is None:
        yield False
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise WriterBusy(Path(root), _holder(fd))
            time.sleep(min(_POLL_SECONDS, left))
        if writable:
            _write_pid(fd, f"{os.getpid()}\n")
        try:
            yield True
        finally:
            if writable:
                _write_pid(fd, "")
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open(path: Path) -> tuple[int | None, bool]:
    flags = os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | flags, 0o644), True
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR):
            raise
    try:  # an existing lock file in a read-only directory still locks
        return os.open(path, os.O_RDONLY | flags), False
    except OSError:
        return None, False


def _write_pid(fd: int, text: str) -> None:
    try:
        os.ftruncate(fd, 0)
        if text:
            os.pwrite(fd, text.encode(), 0)
    except OSError:  # a full disk: the pid is only for the message
        pass


def _holder(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
