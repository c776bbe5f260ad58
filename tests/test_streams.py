"""linnet.streams: a stdout that fails drops the output instead of stopping the work."""
from __future__ import annotations

import errno
import io
import os

import pytest

from linnet import streams


class Failing(io.StringIO):
    def __init__(self, fd: int, err: int) -> None:
        super().__init__()
        self.fd, self.err = fd, err

    def flush(self) -> None:
        raise OSError(self.err, os.strerror(self.err))

    def fileno(self) -> int:
        return self.fd


@pytest.fixture
def scratch_fd(tmp_path):
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    yield fd, tmp_path / "out"
    os.close(fd)


@pytest.mark.parametrize("err", [errno.EPIPE, errno.ENOSPC])
def test_a_failed_write_drops_the_output_and_is_remembered(monkeypatch, scratch_fd, err):
    fd, path = scratch_fd
    monkeypatch.setattr(streams, "_failures", {})
    guarded = streams.GuardedStream(Failing(fd, err), "stdout")
    assert guarded.write("hello") == 5
    guarded.flush()                                         # raises inside: caught, fd now /dev/null
    os.write(fd, b"dropped")
    assert path.read_bytes() == b""
    assert streams.failure("stdout").errno == err
    assert streams.reader_left(streams.failure("stdout")) is (err == errno.EPIPE)


def test_a_working_stream_passes_everything_through(monkeypatch):
    monkeypatch.setattr(streams, "_failures", {})
    inner = io.StringIO()
    guarded = streams.GuardedStream(inner, "stdout")
    guarded.write("a\n")
    guarded.flush()
    assert inner.getvalue() == "a\n" and streams.failure("stdout") is None
    assert guarded.getvalue() == "a\n"                       # other attributes: the real stream's
