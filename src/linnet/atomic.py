"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Write to a temporary name in the same directory, fsync, then os.replace (atomic on POSIX).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from linnet.errors import LinnetError


class WriteError(LinnetError, OSError):
    """A file could not be written (disk full, read-only...): one line naming it; the old file is unchanged."""

    def __init__(self, path: Path, exc: OSError) -> None:
        super().__init__(exc.errno, exc.strerror, str(path))
        self.message = (f"{path}: cannot write ({exc.strerror or exc}); "
                        "the previous version of the file, if any, is unchanged")

    def __str__(self) -> str:
        return self.message


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; on any failure (disk full...) nothing changes at `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide, as for any new file (mkstemp would force 0600)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise WriteError(path, exc) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
