"""One live writer per run directory: an OS file lock (fcntl.flock) on RUN_DIR/.lock.

The kernel drops a flock the moment its process ends, however it ends (kill -9, SIGBUS, a crash,
a reboot), so a lock can never be stale: a .lock file left by a dead process is free to take,
whatever pid it names, even one that now belongs to an unrelated live process, or -1, or garbage.
The holder writes its pid into the file for the message ("in use by ... pid N") only; the decision
is the kernel's. The lock is not inherited by programs the holder starts (close-on-exec).
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from linnet.errors import ConfigError, LinnetError

LOCK = ".lock"
_RETRIES = (0.0, 0.02, 0.05)  # a `holder` probe holds a shared lock for microseconds: try again


class RunBusy(LinnetError):
    """Another live process holds the run directory."""


def _pid_in(fd: int) -> int | None:
    """The pid the holder wrote, if the file says one (it is only shown, never trusted)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and 0 < int(text) < 1 << 31 else None


def _busy(run_path: Path, pid: int | None) -> RunBusy:
    lock = run_path / LOCK
    who = f"pid {pid}" if pid is not None else "pid unknown"
    stop = f"stop it (kill {pid})" if pid is not None else "stop it"
    return RunBusy(f"{run_path} is in use by another linnet process ({who}), which holds the lock {lock}; "
                   f"wait for it to finish or {stop}: the lock is released when that process ends")


def acquire(run_path: Path) -> int:
    """Take the run's lock (RunBusy if a live process holds it); returns the open lock file's fd."""
    lock = run_path / LOCK
    for delay in (*_RETRIES, None):
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigError(f"{lock}: cannot create the run's lock file ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            if delay is None:
                raise _busy(run_path, pid) from None
            time.sleep(delay)
            continue
        try:  # the previous holder may have removed the file we opened: hold the one on disk
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise ConfigError(f"{lock}: cannot write the run's lock file ({exc.strerror or exc})") from None
        return fd
    raise _busy(run_path, None)


def release(run_path: Path, fd: int) -> None:
    """Remove the lock file, then drop the lock (closing the fd): a process that opened the old file
    meanwhile finds it gone after locking it, and takes a new one (see acquire)."""
    try:
        (run_path / LOCK).unlink(missing_ok=True)
    finally:
        os.close(fd)


def holder(run_path: Path) -> int | None:
    """The pid of the live process holding the run's lock (None when free; -1 when held by a process
    that wrote no pid). Probes without creating anything."""
    try:
        fd = os.open(run_path / LOCK, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _pid_in(fd)
        return -1 if pid is None else pid
    finally:
        os.close(fd)
    return None
