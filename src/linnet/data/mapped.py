"""Memory-mapped IDX files (--mmap), guarded against other processes while they are mapped.

Reading a mapped file that another process has truncated kills the reader with SIGBUS: no message,
nothing Python can catch. So on Linux linnet takes a read lease (fcntl F_SETLEASE) on each file it
maps: the kernel then holds back any other process that opens the file for writing or truncates it
(a non-blocking open fails at once; a blocking one waits up to /proc/sys/fs/lease-break-time, 45 s
by default) and tells linnet with SIGIO. linnet stops where it is, with one line naming the file:
the run keeps its last complete epoch, and the other process goes ahead once linnet has exited.

A lease needs the file's owner (or CAP_LEASE), no writer at the time and a local file system; where
none can be had (another user's file, NFS, another OS) the mapping is unguarded, as README says.
Leases are taken only once `install` has routed SIGIO here, which only the main thread can do
(SIGIO's default action would end the process).
"""
from __future__ import annotations

import os
import signal
import threading

from linnet.errors import DataError

_leases: dict[int, str] = {}   # lease fd -> the file it guards
_installed = False


def install() -> None:
    """Route SIGIO to linnet (from the main thread; elsewhere a no-op, and no lease is taken)."""
    global _installed
    if not _installed and threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGIO"):
        signal.signal(signal.SIGIO, _on_lease_break)
        _installed = True


class Lease:
    """A read lease on one file, held while this object lives (the array keeps it)."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd, self.path = fd, path
        _leases[fd] = path

    def __del__(self) -> None:
        _leases.pop(self.fd, None)
        os.close(self.fd)  # closing the fd releases the lease


def lease(path: os.PathLike | str) -> Lease | None:
    """A read lease on `path`, or None where none can be had (the mapping is then unguarded)."""
    import fcntl
    if not _installed or not hasattr(fcntl, "F_SETLEASE"):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        # the break is signalled to the lease's owner: the thread that took it unless told otherwise, and
        # the reads run on pool threads that are gone by then; the whole process, whose main thread handles it
        fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    except OSError:   # another user's file, a writer has it open, a file system without leases
        os.close(fd)
        return None
    return Lease(fd, str(path))


def _on_lease_break(signum, frame) -> None:
    import fcntl
    broken = [path for fd, path in list(_leases.items()) if _lease_type(fcntl, fd) != fcntl.F_RDLCK]
    if broken:
        raise DataError(f"{broken[0]}: another process is writing to or truncating this memory-mapped data "
                        "file; linnet stopped before reading it again (a run keeps its last complete epoch; "
                        "--resume it once the file is whole)")


def _lease_type(fcntl, fd: int) -> int:
    try:
        return fcntl.fcntl(fd, fcntl.F_GETLEASE)
    except OSError:
        return fcntl.F_UNLCK
