"""The process's standard streams, made safe before any work starts (the `linnet` entry point).

A command's output is a by-product of its work, never a reason to lose it: a reader that leaves
(`linnet train ... | head -1`), stdout on a full disk (/dev/full) or a closed stdout must neither
cut a run short nor end it in a traceback. So:

- fds 0-2 that are closed get /dev/null, so that no file linnet opens later takes their number
  (a checkpoint opened as fd 1 would receive every print);
- text that the stream's encoding cannot show (PYTHONIOENCODING=ascii and a run named 'café')
  is written with backslash escapes instead of raising;
- the first write to stdout or stderr that fails points that fd at /dev/null: the work goes on,
  later output is dropped, and `failure()` tells the CLI, which says so in one line at the end
  (not for a reader that left: that is an ordinary end of a pipe, see cli.main).

Nothing heavy is imported here: it runs before argparse and before torch.
"""
from __future__ import annotations

import errno
import os
import sys

_failures: dict[str, OSError] = {}


def reopen_closed_fds() -> None:
    """Give each closed fd 0, 1, 2 /dev/null, and a None sys.stdout / sys.stderr a stream on it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:  # os.open takes the lowest free number: fd itself when the lower ones are open
                os.dup2(null, fd)
                os.close(null)
    for name, fd in (("stdout", 1), ("stderr", 2)):
        if getattr(sys, name) is None:  # Python starts with None for an fd that was closed
            setattr(sys, name, open(fd, "w", closefd=False))


class GuardedStream:
    """A text stream whose failing writes drop the output instead of raising (see the module doc)."""

    def __init__(self, stream, name: str) -> None:
        self._stream, self._name = stream, name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            self._drop(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            self._drop(exc)

    def _drop(self, exc: OSError) -> None:
        """From now on this fd is /dev/null: the buffered text is discarded there, not retried forever."""
        _failures.setdefault(self._name, exc)
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self._stream.fileno())
            os.close(null)
            self._stream.flush()  # the text still in the buffer goes to /dev/null
        except (OSError, ValueError):
            pass

    def __getattr__(self, name):  # isatty, fileno, encoding, buffer...: those of the real stream
        return getattr(self._stream, name)


def install() -> None:
    """Make stdin/stdout/stderr safe for the rest of the process (the console script calls it first)."""
    reopen_closed_fds()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, GuardedStream):
            continue
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):  # not a TextIOWrapper (replaced by a test harness)
            pass
        setattr(sys, name, GuardedStream(stream, name))


def failure(name: str = "stdout") -> OSError | None:
    """The error that made `name` drop its output, None while it works."""
    return _failures.get(name)


def reader_left(exc: OSError | None) -> bool:
    """True for a broken pipe: the reader (`head`) has what it wanted; not an error of the command."""
    return exc is not None and exc.errno == errno.EPIPE
