"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Write to a temporary name in the same directory, fsync, then os.replace (atomic on POSIX).
`check_output_path` is the one check of a file path a command was given to write (--out, --grid):
called before the work, so `--out .`, `--out ''` or a path under a regular file is one line at once.
"""
from __future__ import annotations

import os
import re
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


class OutputPathError(LinnetError, ValueError):
    """An output path that cannot be a file: '', a directory, under a regular file, not writable."""


def check_output_path(option: str, value) -> Path:
    """`value` names a file that can be written: not empty, not a directory, and its nearest existing
    ancestor a directory we may write in (missing directories between are created by `make_parent`)."""
    text = os.fspath(value) if value is not None else ""
    path = Path(text).expanduser()
    if not text or text.endswith(os.sep) or path.name in ("", ".", "..") or path.is_dir():
        raise OutputPathError(f"The '{option}' option must name a file to write, not a directory. Got {text!r}.")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError(f"The '{option}' file {text} cannot be written: {ancestor} is not a directory.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError(f"The '{option}' file {text} cannot be written: no permission to write in {ancestor}.")
    return path


def make_parent(path: str | os.PathLike) -> Path:
    """Create the directories above `path` (after check_output_path); a failure is one WriteError."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path, exc) from None
    return path


def temp_name(path: Path) -> Path:
    """The temporary name of a write to `path`: hidden, beside it, with a random part."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


_TEMP = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")   # temp_name's pattern: '.' NAME '.' 12 hex digits '.tmp'


def is_temp_name(name: str) -> bool:
    """True for a name temp_name() makes: the only files linnet may delete as leftovers of a cut write."""
    return _TEMP.fullmatch(name) is not None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically; on any failure (disk full...) nothing changes at `path`."""
    path = Path(path)
    if path.name in ("", ".", ".."):  # '', '.', '/': no file name to write under
        raise OutputPathError(f"{os.fspath(path)!r} names a directory, not a file to write")
    tmp = temp_name(path)
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
