"""Named datasets: loading from a data dir, validation, digits, and downloads from a local server."""
from __future__ import annotations

import errno
import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import (CUT, NOT_FOUND, OK, SERVER_ERROR, STANDARD_NAMES, WRONG_BYTES, fake_gz_bytes,
                      fake_source, unused_port_url, write_fake_dataset)
from linnet.data import sources
from linnet.data.dataset import Split
from linnet.data.idx import write_idx
from linnet.data.sources import (DIGIT_CLASSES, FASHION_MNIST_CLASSES, default_data_dir, load_dataset,
                                 load_digits_dataset)
from linnet.errors import DataError, DownloadError, IDXError


def assert_dataset_equals(ds, arrays) -> None:
    for split in ("train", "test"):
        s = getattr(ds, split)
        assert s.images.dtype == torch.uint8 and s.labels.dtype == torch.int64
        np.testing.assert_array_equal(s.images.numpy(), arrays[f"{split}_images"])
        np.testing.assert_array_equal(s.labels.numpy(), arrays[f"{split}_labels"])


# ---------------------------------------------------------------------------- local files

@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("name,classes", [("fashion-mnist", FASHION_MNIST_CLASSES), ("mnist", DIGIT_CLASSES)])
def test_load_from_data_dir(tmp_path, name, classes, gz):
    arrays = write_fake_dataset(tmp_path, 37, 11, gz=gz)
    ds = load_dataset(name, tmp_path, download=False)
    assert ds.name == name
    assert ds.classes == classes
    assert (len(ds.train), len(ds.test)) == (37, 11)
    assert ds.image_shape == (1, 28, 28)
    assert_dataset_equals(ds, arrays)


def test_load_with_mmap_from_raw_files(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11, gz=False)
    assert_dataset_equals(load_dataset("mnist", tmp_path, download=False, mmap=True), arrays)


def test_mmap_of_gz_files_names_the_file(tmp_path):
    write_fake_dataset(tmp_path, 37, 11, gz=True)
    with pytest.raises(IDXError, match=r"^train-images-idx3-ubyte\.gz: is gzip-compressed and cannot be memory-mapped"):
        load_dataset("mnist", tmp_path, download=False, mmap=True)


def test_image_shape_follows_the_files(tmp_path):
    write_fake_dataset(tmp_path, 12, 10, shape=(5, 7))
    assert load_dataset("fashion-mnist", tmp_path, download=False).image_shape == (1, 5, 7)


def test_text_labels(data_dir):
    ds = load_dataset("fashion-mnist", data_dir, download=False)
    assert ds.text_labels([0, 9, 3]) == ["T-shirt/top", "Ankle boot", "Dress"]
    assert ds.text_labels(torch.tensor([1, 8])) == ["Trouser", "Bag"]
    assert load_dataset("mnist", data_dir, download=False).text_labels([7]) == ["7"]


def test_fashion_mnist_facts():
    src = sources.SOURCES["fashion-mnist"]
    assert src.files["train_images"] == ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d")
    assert src.files["test_labels"] == ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")
    assert len(src.classes) == 10


def test_count_mismatch_names_both_files(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", arrays["test_labels"][:10])
    with pytest.raises(DataError, match=r"^t10k-images-idx3-ubyte\.gz / t10k-labels-idx1-ubyte\.gz: 11 images but "
                                        r"10 labels; the counts must agree$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_label_out_of_range(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    labels = arrays["train_labels"].copy()
    labels[5] = 10
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(DataError, match=r"^train-images-idx3-ubyte\.gz / train-labels-idx1-ubyte\.gz: label 10 is "
                                        r"out of range for 10 classes \(0\.\.9\)$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_negative_label(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", arrays["train_labels"].astype(np.int8) - 1)
    with pytest.raises(DataError, match=r"label -1 is out of range for 10 classes \(0\.\.9\)$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_float_labels(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", arrays["train_labels"].astype(np.float32))
    with pytest.raises(DataError, match=r"^train-images-idx3-ubyte\.gz / train-labels-idx1-ubyte\.gz: labels must be "
                                        r"integers, got float32$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_labels_not_1d(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", arrays["test_labels"].reshape(11, 1))
    with pytest.raises(DataError, match=r"labels must have 1 dimension \(N,\), got shape \(11, 1\)$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


@pytest.mark.parametrize("shape", [(37, 784), (37, 1, 28, 28)])
def test_images_not_3d(tmp_path, shape):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", arrays["train_images"].reshape(shape))
    shape_text = re.escape(str(shape))
    with pytest.raises(DataError, match=rf"^train-images-idx3-ubyte\.gz / train-labels-idx1-ubyte\.gz: images must "
                                        rf"have 3 dimensions \(N, H, W\), got shape {shape_text}$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_images_not_bytes(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", arrays["train_images"].astype(np.float32))
    with pytest.raises(DataError, match=r"images must be unsigned bytes \(IDX type 0x08\), got float32$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_empty_split(tmp_path):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", arrays["test_images"][:0])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", arrays["test_labels"][:0])
    with pytest.raises(DataError, match=r"^t10k-images-idx3-ubyte\.gz / t10k-labels-idx1-ubyte\.gz: the split is empty$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_missing_file_without_download(tmp_path):
    write_fake_dataset(tmp_path, 37, 11)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=rf"^{re.escape(str(tmp_path))}: train-labels-idx1-ubyte\.gz is missing "
                                        r"\(downloads are off\)$"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_bad_idx_file_in_data_dir(tmp_path):
    write_fake_dataset(tmp_path, 37, 11)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(IDXError, match=r"^t10k-images-idx3-ubyte\.gz: is not a valid gzip stream"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_unknown_dataset():
    with pytest.raises(DataError, match=r"^unknown dataset 'cifar'; expected one of fashion-mnist, mnist, digits$"):
        load_dataset("cifar")


def test_digits_offline():
    ds = load_dataset("digits")
    assert ds.name == "digits" and ds.classes == DIGIT_CLASSES
    assert (len(ds.train), len(ds.test)) == (1437, 360)
    assert ds.image_shape == (1, 8, 8)
    assert ds.train.images.dtype == torch.uint8 and ds.train.labels.dtype == torch.int64
    assert int(ds.train.images.max()) == 255  # 0..16 scaled to 0..255
    for split in (ds.train, ds.test):  # stratified: every class in both splits, in proportion
        counts = torch.bincount(split.labels, minlength=10)
        assert (counts > 0).all()
        assert (counts.float() / len(split) - 0.1).abs().max() < 0.02
    again = load_digits_dataset()
    for a, b in ((ds.train, again.train), (ds.test, again.test)):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_default_data_dir_honours_linnet_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LINNET_DATA", str(tmp_path / "store"))
    assert default_data_dir("mnist") == tmp_path / "store" / "mnist"
    monkeypatch.setenv("LINNET_DATA", "~/linnet-store")
    assert default_data_dir("mnist") == Path.home() / "linnet-store" / "mnist"


def test_default_data_dir_falls_back_to_a_cache(monkeypatch):
    monkeypatch.delenv("LINNET_DATA")
    path = default_data_dir("fashion-mnist")
    assert path.name == "fashion-mnist" and "linnet" in path.parts


def test_load_without_data_dir_uses_linnet_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LINNET_DATA", str(tmp_path))
    arrays = write_fake_dataset(tmp_path / "mnist", 37, 11)
    assert_dataset_equals(load_dataset("mnist", download=False), arrays)


# ---------------------------------------------------------------------------- downloads

def assert_only_verified_files(directory: Path, blobs: dict[str, bytes], expected: set[str]) -> None:
    """The directory holds exactly `expected` (no temp files, no partial files), each byte-exact."""
    assert {p.name for p in directory.iterdir()} == expected
    for name in expected:
        assert hashlib.md5((directory / name).read_bytes()).hexdigest() == hashlib.md5(blobs[name]).hexdigest()


@pytest.fixture
def blobs_arrays(tmp_path_factory):
    return fake_gz_bytes(tmp_path_factory.mktemp("staging"), 37, 11)


def serve_all(server, prefix: str, blobs: dict[str, bytes], mode: str = OK) -> str:
    for name, data in blobs.items():
        server.serve(prefix + name, data, mode)
    return server.url(prefix)


def use_source(monkeypatch, source) -> None:
    monkeypatch.setitem(sources.SOURCES, "fashion-mnist", source)


def load(directory: Path):
    return load_dataset("fashion-mnist", directory, progress=False)


def test_download_from_a_good_mirror(tmp_path, http_server, monkeypatch, blobs_arrays):
    blobs, arrays = blobs_arrays
    server = http_server()
    use_source(monkeypatch, fake_source([serve_all(server, "fashion/", blobs)], blobs))
    directory = tmp_path / "cache" / "fashion-mnist"  # does not exist yet
    ds = load(directory)
    assert_dataset_equals(ds, arrays)
    assert_only_verified_files(directory, blobs, set(blobs))
    assert sorted(server.requests) == sorted(f"fashion/{n}" for n in blobs)
    load(directory)  # a second load uses the verified files, downloads nothing
    assert len(server.requests) == 4


def test_download_is_quiet_without_progress(tmp_path, http_server, monkeypatch, blobs_arrays):
    import logging

    import pooch
    blobs, _ = blobs_arrays
    use_source(monkeypatch, fake_source([serve_all(http_server(), "", blobs)], blobs))
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    monkeypatch.setattr(pooch.get_logger(), "level", logging.NOTSET)  # restored at teardown
    pooch.get_logger().addHandler(handler)
    try:
        load(tmp_path)
    finally:
        pooch.get_logger().removeHandler(handler)
    assert pooch.get_logger().level >= logging.WARNING  # pooch's "Downloading data from ..." is muted
    assert [r.getMessage() for r in records] == []
    assert_only_verified_files(tmp_path, blobs, set(blobs))


def test_download_into_linnet_data(tmp_path, http_server, monkeypatch, blobs_arrays):
    blobs, arrays = blobs_arrays
    monkeypatch.setenv("LINNET_DATA", str(tmp_path / "store"))
    use_source(monkeypatch, fake_source([serve_all(http_server(), "", blobs)], blobs))
    assert_dataset_equals(load_dataset("fashion-mnist", progress=False), arrays)
    assert_only_verified_files(tmp_path / "store" / "fashion-mnist", blobs, set(blobs))


def test_download_only_the_missing_files(tmp_path, http_server, monkeypatch, blobs_arrays):
    blobs, arrays = blobs_arrays
    server = http_server()
    use_source(monkeypatch, fake_source([serve_all(server, "", blobs)], blobs))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(blobs["train-images-idx3-ubyte.gz"])
    assert_dataset_equals(load(tmp_path), arrays)
    assert "train-images-idx3-ubyte.gz" not in server.requests and len(server.requests) == 3
    assert_only_verified_files(tmp_path, blobs, set(blobs))


@pytest.mark.parametrize("first_mode", [WRONG_BYTES, NOT_FOUND, SERVER_ERROR, CUT, "down"])
def test_next_mirror_after_a_bad_one(tmp_path, http_server, monkeypatch, blobs_arrays, first_mode):
    blobs, arrays = blobs_arrays
    good = http_server()
    if first_mode == "down":
        first_url = unused_port_url()
    else:
        bad = http_server()
        first_url = serve_all(bad, "a/", blobs, first_mode)
    use_source(monkeypatch, fake_source([first_url, serve_all(good, "b/", blobs)], blobs))
    ds = load(tmp_path / "data")
    assert_dataset_equals(ds, arrays)
    assert_only_verified_files(tmp_path / "data", blobs, set(blobs))
    if first_mode != "down":
        assert sorted(bad.requests) == sorted(f"a/{n}" for n in blobs)  # the bad mirror was tried first
    assert sorted(good.requests) == sorted(f"b/{n}" for n in blobs)


def test_one_bad_file_on_the_first_mirror(tmp_path, http_server, monkeypatch, blobs_arrays):
    blobs, arrays = blobs_arrays
    first, second = http_server(), http_server()
    url1 = serve_all(first, "", blobs)
    first.modes["t10k-images-idx3-ubyte.gz"] = CUT
    use_source(monkeypatch, fake_source([url1, serve_all(second, "", blobs)], blobs))
    assert_dataset_equals(load(tmp_path), arrays)
    assert second.requests == ["t10k-images-idx3-ubyte.gz"]
    assert_only_verified_files(tmp_path, blobs, set(blobs))


@pytest.mark.parametrize("modes", [(WRONG_BYTES, CUT, "down"), (NOT_FOUND, SERVER_ERROR, WRONG_BYTES)])
def test_all_mirrors_bad(tmp_path, http_server, monkeypatch, blobs_arrays, modes):
    blobs, _ = blobs_arrays
    urls = []
    for i, mode in enumerate(modes):
        urls.append(unused_port_url() if mode == "down" else serve_all(http_server(), f"m{i}/", blobs, mode))
    use_source(monkeypatch, fake_source(urls, blobs))
    directory = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        load(directory)
    message = str(info.value)
    assert message.startswith("could not download train-images-idx3-ubyte.gz for fake-mnist; tried: ")
    for url in urls:
        assert f"{url}train-images-idx3-ubyte.gz (" in message
    reasons = {WRONG_BYTES: "(checksum mismatch)", CUT: "(Connection broken mid-file)",
               "down": "(cannot connect: Connection refused)", NOT_FOUND: "(HTTP 404 ", SERVER_ERROR: "(HTTP 500 "}
    for mode in modes:
        assert reasons[mode] in message
    assert "Max retries" not in message and "\n" not in message   # a reason in a few words, one line
    assert str(directory) in message
    for name in STANDARD_NAMES.values():
        assert name in message
    assert "--data-dir" in message and "--dataset digits" in message
    assert list(directory.iterdir()) == []  # nothing partial, nothing temporary


def test_all_mirrors_bad_after_some_files(tmp_path, http_server, monkeypatch, blobs_arrays):
    blobs, _ = blobs_arrays
    server = http_server()
    url = serve_all(server, "", blobs)
    server.modes["t10k-images-idx3-ubyte.gz"] = CUT
    use_source(monkeypatch, fake_source([url], blobs))
    with pytest.raises(DownloadError, match=r"could not download t10k-images-idx3-ubyte\.gz for fake-mnist; tried: "
                                            rf"{re.escape(url)}t10k-images-idx3-ubyte\.gz \("):
        load(tmp_path)
    # the files fetched before the failure are whole and verified; the cut one left nothing
    assert_only_verified_files(tmp_path, blobs, {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"})


def test_download_error_is_a_linnet_oserror():
    assert issubclass(DownloadError, OSError)


class _FullDisk:
    """A file whose writes fail with ENOSPC once more than `room` bytes were asked for."""

    def __init__(self, path, mode, room: int, log: list):
        self._f = open(path, mode)  # noqa: SIM115 (closed by close())
        self._room, self._log = room, log

    def write(self, data):
        self._room -= len(data)
        if self._room < 0:
            self._log.append("ENOSPC")
            self._f.write(data[: len(data) + self._room])  # the part that fit
            self._f.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)


def test_disk_full_while_downloading(tmp_path, http_server, monkeypatch, blobs_arrays):
    import pooch.downloaders
    blobs, _ = blobs_arrays
    log: list[str] = []
    # pooch's HTTPDownloader opens its temporary output file with the builtin open(): give it one
    # that fills up after 100 bytes
    monkeypatch.setattr(pooch.downloaders, "open", lambda path, mode="r": _FullDisk(path, mode, 100, log),
                        raising=False)
    server = http_server()
    url = serve_all(server, "", blobs)
    use_source(monkeypatch, fake_source([url], blobs))
    directory = tmp_path / "data"
    second = http_server()  # a good second mirror: a full disk is local, so it must not be tried
    url2 = serve_all(second, "", blobs)
    use_source(monkeypatch, fake_source([url, url2], blobs))
    with pytest.raises(DownloadError, match=rf"^{re.escape(str(directory))}: cannot write train-images-idx3-ubyte\.gz "
                                            r"\(No space left on device\); free some space or pass another --data-dir"):
        load(directory)
    assert log == ["ENOSPC"]  # the fault was really injected mid-file, once: no second mirror tried
    assert second.requests == []
    assert len(blobs["train-images-idx3-ubyte.gz"]) > 100
    assert list(directory.iterdir()) == []  # no partial file under the final name, no temp file


def test_data_dir_that_cannot_be_created_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DataError, match=r"a-file/data: cannot create the data directory \(Not a directory\)"):
        load_dataset("fashion-mnist", blocker / "data")
    assert blocker.read_text() == "not a directory"


def test_mmap_prefers_the_uncompressed_file_when_both_exist(tmp_path):
    from conftest import write_fake_dataset
    write_fake_dataset(tmp_path, 12, 5, gz=True)
    write_fake_dataset(tmp_path, 12, 5, gz=False)
    ds = load_dataset("fashion-mnist", tmp_path, download=False, mmap=True)
    assert len(ds.train) == 12 and len(ds.test) == 5


def test_read_ahead_hands_its_arrays_to_the_load_and_leaves_errors_to_it(tmp_path):
    arrays = write_fake_dataset(tmp_path / "d", 30, 10, gz=True)
    sources.read_ahead("fashion-mnist", tmp_path / "d")
    pending = dict(sources._read_ahead)
    assert len(pending) == 4
    ds = sources.load_dataset("fashion-mnist", tmp_path / "d", download=False)
    assert sources._read_ahead == {}                                          # taken, not read twice
    assert all(f.done() for f in pending.values())
    np.testing.assert_array_equal(ds.train.images.numpy(), arrays["train_images"])
    np.testing.assert_array_equal(ds.test.labels.numpy(), arrays["test_labels"])
    # a bad file: the read-ahead fails quietly, the load reports it as it always does
    (tmp_path / "d" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    sources.read_ahead("fashion-mnist", tmp_path / "d")
    with pytest.raises(IDXError, match=r"t10k-labels-idx1-ubyte\.gz: is not a valid gzip stream"):
        sources.load_dataset("fashion-mnist", tmp_path / "d", download=False)
    sources._read_ahead.clear()
    sources.read_ahead("digits")                                              # not IDX files: nothing to do
    assert sources._read_ahead == {}


# ---------------------------------------------------------------------------- a split as a map-style dataset

def test_a_split_is_a_map_style_dataset(data_dir):
    split = load_dataset("fashion-mnist", data_dir, download=False).train
    x, label = split[3]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x[0], split.images[3].float() / 255) and 0 <= float(x.min()) <= float(x.max()) <= 1
    assert isinstance(label, int) and label == int(split.labels[3])
    assert torch.equal(split[-1][0], split[len(split) - 1][0])
    with pytest.raises(IndexError):
        split[len(split)]


def test_dataloader_batches_a_split_like_torchvisions_fashion_mnist(data_dir):
    from torch.utils.data import DataLoader
    split = load_dataset("fashion-mnist", data_dir, download=False).test
    batches = list(DataLoader(split, 8, shuffle=True))
    assert [len(y) for _, y in batches] == [8, 8, 4]
    X, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    assert X.shape == (20, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert sorted(y.tolist()) == sorted(split.labels.tolist())


def test_a_regression_split_hands_out_features_and_targets_as_they_are():
    split = Split(torch.randn(5, 2), torch.randn(5, 1))
    x, t = split[2]
    assert torch.equal(x, split.images[2]) and torch.equal(t, split.labels[2])


def test_missing_files_lists_what_a_directory_lacks(tmp_path):
    assert sources.missing_files("mnist", tmp_path) == list(STANDARD_NAMES.values())
    write_fake_dataset(tmp_path, 5, 5, gz=False)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    assert sources.missing_files("mnist", tmp_path) == ["t10k-images-idx3-ubyte.gz"]
