"""Fault: downloads that go wrong (server down, wrong bytes, connection cut, disk full).

Expected: the next mirror is tried, or one clear error that names every mirror tried; at no
moment does a partial or unverified file sit under a final name, and none is left behind.
"""
from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
from conftest import CUT, NOT_FOUND, OK, STANDARD_NAMES, WRONG_BYTES, fake_gz_bytes, fake_source, unused_port_url
from fault_tools import assert_one_line_error, cli

from linnet.data import sources
from linnet.data.sources import load_dataset
from linnet.errors import DownloadError

FINAL_NAMES = set(STANDARD_NAMES.values())


@pytest.fixture
def blobs(tmp_path_factory):
    return fake_gz_bytes(tmp_path_factory.mktemp("staging"), 37, 11)[0]


def serve_all(server, prefix, blobs, mode=OK) -> str:
    for name, data in blobs.items():
        server.serve(prefix + name, data, mode)
    return server.url(prefix)


def use_mirrors(monkeypatch, urls, blobs) -> None:
    monkeypatch.setitem(sources.SOURCES, "fashion-mnist", fake_source(urls, blobs))


def assert_verified(directory: Path, blobs, names=FINAL_NAMES) -> None:
    """Exactly `names` in the directory, each byte-identical to what the source publishes."""
    assert sorted(p.name for p in directory.iterdir()) == sorted(names)
    for name in names:
        assert hashlib.md5((directory / name).read_bytes()).digest() == hashlib.md5(blobs[name]).digest()


@pytest.fixture
def writes(monkeypatch):
    """Every file pooch's downloader opens for writing (its path): to see where bytes land."""
    import pooch.downloaders
    opened: list[Path] = []

    def spy_open(path, mode="r", *args, **kwargs):
        opened.append(Path(path))
        return open(path, mode, *args, **kwargs)
    monkeypatch.setattr(pooch.downloaders, "open", spy_open, raising=False)
    return opened


def assert_never_written_under_a_final_name(writes) -> None:
    assert writes, "the download never started"
    for path in writes:
        assert path.name not in FINAL_NAMES, f"bytes were streamed straight into {path}"


@pytest.mark.parametrize("fault", ["server-down", "checksum-mismatch", "cut-mid-file", "404"])
def test_a_bad_first_mirror_falls_back_to_the_next(tmp_path, http_server, monkeypatch, blobs, writes, fault):
    good = http_server()
    if fault == "server-down":
        first = unused_port_url()
    else:
        bad = http_server()
        first = serve_all(bad, "a/", blobs, {"checksum-mismatch": WRONG_BYTES, "cut-mid-file": CUT,
                                            "404": NOT_FOUND}[fault])
    use_mirrors(monkeypatch, [first, serve_all(good, "b/", blobs)], blobs)
    directory = tmp_path / "data"
    ds = load_dataset("fashion-mnist", directory, progress=False)
    assert (len(ds.train), len(ds.test)) == (37, 11)
    assert_verified(directory, blobs)
    assert sorted(good.requests) == sorted(f"b/{n}" for n in FINAL_NAMES)
    if fault != "server-down":
        assert sorted(bad.requests) == sorted(f"a/{n}" for n in FINAL_NAMES)  # it was really tried first
    assert_never_written_under_a_final_name(writes)


def test_every_mirror_bad_is_one_error_naming_each_and_leaves_nothing(tmp_path, http_server, monkeypatch,
                                                                       blobs, writes):
    urls = [unused_port_url(), serve_all(http_server(), "w/", blobs, WRONG_BYTES),
            serve_all(http_server(), "c/", blobs, CUT)]
    use_mirrors(monkeypatch, urls, blobs)
    directory = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        load_dataset("fashion-mnist", directory, progress=False)
    message = str(info.value)
    assert "\n" not in message
    for url, why in zip(urls, ("Connection refused", "checksum mismatch", "Connection broken")):
        assert f"{url}train-images-idx3-ubyte.gz (" in message and why in message
    assert str(directory) in message and "--data-dir" in message
    assert list(directory.iterdir()) == []  # no partial file, no temporary file
    assert_never_written_under_a_final_name(writes)


def test_a_cut_after_some_files_keeps_only_the_whole_verified_ones(tmp_path, http_server, monkeypatch, blobs):
    server = http_server()
    url = serve_all(server, "", blobs)
    server.modes["t10k-labels-idx1-ubyte.gz"] = CUT  # the last file of the four
    use_mirrors(monkeypatch, [url], blobs)
    with pytest.raises(DownloadError, match=r"could not download t10k-labels-idx1-ubyte\.gz"):
        load_dataset("fashion-mnist", tmp_path, progress=False)
    assert_verified(tmp_path, blobs, FINAL_NAMES - {"t10k-labels-idx1-ubyte.gz"})
    # and a later run with a working mirror fetches only the missing file
    server.modes["t10k-labels-idx1-ubyte.gz"] = OK
    server.requests.clear()
    load_dataset("fashion-mnist", tmp_path, progress=False)
    assert server.requests == ["t10k-labels-idx1-ubyte.gz"]
    assert_verified(tmp_path, blobs)


class _DiskFillsUp:
    """A file whose writes fail with ENOSPC once `room` bytes are used (part of the chunk is written)."""

    def __init__(self, path, mode, room, log):
        self._f, self._room, self._log = open(path, mode), room, log  # noqa: SIM115
        log.append(Path(path))

    def write(self, data):
        self._room -= len(data)
        if self._room < 0:
            self._f.write(data[: len(data) + self._room])
            self._f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


@pytest.fixture
def disk_full(monkeypatch):
    import pooch.downloaders
    opened: list[Path] = []
    monkeypatch.setattr(pooch.downloaders, "open", lambda path, mode="r": _DiskFillsUp(path, mode, 64, opened),
                        raising=False)
    return opened


def test_disk_full_while_writing_is_a_clear_error_and_leaves_no_partial_file(tmp_path, http_server, monkeypatch,
                                                                              blobs, disk_full):
    first, second = http_server(), http_server()
    use_mirrors(monkeypatch, [serve_all(first, "", blobs), serve_all(second, "", blobs)], blobs)
    directory = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        load_dataset("fashion-mnist", directory, progress=False)
    assert str(info.value) == (f"{directory}: cannot write train-images-idx3-ubyte.gz (No space left on device); "
                               "free some space or pass another --data-dir")
    assert len(disk_full) == 1 and disk_full[0].name not in FINAL_NAMES  # it was writing a temporary file
    assert second.requests == []  # a full disk is local: another mirror cannot help
    assert list(directory.iterdir()) == []


def test_disk_full_through_the_cli(tmp_path, http_server, monkeypatch, blobs, disk_full, capsys):
    use_mirrors(monkeypatch, [serve_all(http_server(), "", blobs)], blobs)
    directory = tmp_path / "data"
    rc, out, err = cli(["data", "--dataset", "fashion-mnist", "--data-dir", directory], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "data", str(directory), "train-images-idx3-ubyte.gz", "No space left on device")
    assert list(directory.iterdir()) == []


@pytest.mark.parametrize("command", ["data", "train"])
def test_all_mirrors_down_through_the_cli(tmp_path, monkeypatch, blobs, capsys, command):
    urls = [unused_port_url(), unused_port_url()]
    use_mirrors(monkeypatch, urls, blobs)
    directory = tmp_path / "empty"
    directory.mkdir()
    argv = [command, "--dataset", "fashion-mnist", "--data-dir", directory]
    if command == "train":
        argv += ["--runs-dir", tmp_path / "runs", "--epochs", 1]
    rc, out, err = cli(argv, capsys)
    assert rc == 2 and out == ""
    message = assert_one_line_error(err, command, "could not download train-images-idx3-ubyte.gz",
                                    *(f"{u}train-images-idx3-ubyte.gz (" for u in urls), str(directory),
                                    "--dataset digits")
    assert message.count("Connection refused") == 2
    assert list(directory.iterdir()) == []
    assert not (tmp_path / "runs").exists()


def test_the_cli_falls_back_to_a_good_mirror(tmp_path, http_server, monkeypatch, blobs, capsys):
    bad, good = http_server(), http_server()
    use_mirrors(monkeypatch, [serve_all(bad, "", blobs, CUT), serve_all(good, "", blobs)], blobs)
    directory = tmp_path / "data"
    rc, out, err = cli(["data", "--dataset", "fashion-mnist", "--data-dir", directory], capsys)
    assert rc == 0, err
    assert "train        37 images" in out
    assert_verified(directory, blobs)
