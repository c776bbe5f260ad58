"""Fault: bad IDX files and inconsistent datasets, through `linnet train` and `linnet data`.

Expected: one line on stderr naming the file and the problem, exit code 2, no traceback; `train`
fails while loading the data, before it creates anything: no runs directory, no run directory.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from conftest import STANDARD_NAMES, write_fake_dataset
from fault_tools import assert_one_line_error, cli, snapshot

from linnet.data.idx import write_idx

N_TRAIN, N_TEST = 50, 20


def raw_idx(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of a uint8 array (write_idx, read back)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        write_idx(Path(d) / "x", array, compress=False)
        return (Path(d) / "x").read_bytes()


def put(directory: Path, role: str, data: bytes, gz_name: bool = True) -> str:
    """Replace the file of `role` by `data`, named NAME.gz or (gz_name False) NAME; returns the name."""
    name = STANDARD_NAMES[role]
    (directory / name).unlink()
    if not gz_name:
        name = name.removesuffix(".gz")
    (directory / name).write_bytes(data)
    return name


def _with_header_byte(raw: bytes, index: int, value: int) -> bytes:
    b = bytearray(raw)
    b[index] = value
    return bytes(b)


# case id -> (role, make(arrays) -> (bytes, named .gz?), what the message must say besides the file name)
CASES = {
    "truncated-payload": ("train_images", lambda a: (raw_idx(a["train_images"])[:-100], False),
                          f"header says {N_TRAIN}x28x28 = {N_TRAIN * 784} bytes, file has {N_TRAIN * 784 - 100}"),
    "truncated-header": ("train_labels", lambda a: (raw_idx(a["train_labels"])[:6], False),
                         "header declares 1 dimensions (8 header bytes), file has 6 bytes"),
    "truncated-gzip": ("test_images", lambda a: (gzip.compress(raw_idx(a["test_images"]))[:200], True),
                       "is not a valid gzip stream (the compressed data ends early: the file is truncated)"),
    "wrong-magic": ("test_labels", lambda a: (gzip.compress(_with_header_byte(raw_idx(a["test_labels"]), 0, 1)), True),
                    "bad magic number 0x01000801"),
    "wrong-type-code": ("train_images",
                        lambda a: (gzip.compress(_with_header_byte(raw_idx(a["train_images"]), 2, 0x07)), True),
                        "unknown type code 0x07"),
    "trailing-bytes": ("test_labels", lambda a: (gzip.compress(raw_idx(a["test_labels"]) + b"extra"), True),
                       f"header says {N_TEST} = {N_TEST} bytes, file has {N_TEST + 5}"),
    "trailing-bytes-raw": ("train_images", lambda a: (raw_idx(a["train_images"]) + b"\0", False),
                           f"header says {N_TRAIN}x28x28 = {N_TRAIN * 784} bytes, file has {N_TRAIN * 784 + 1}"),
    "garbage-after-gzip": ("train_labels", lambda a: (gzip.compress(raw_idx(a["train_labels"])) + b"<html>", True),
                           "trailing garbage after the gzip data"),
    "not-gzip": ("train_labels", lambda a: (raw_idx(a["train_labels"]), True),
                 "is named .gz but is not gzip-compressed"),
    "html-instead-of-gzip": ("test_images", lambda a: (b"<html><body>404 Not Found</body></html>\n", True),
                             "is named .gz but is not gzip-compressed"),
    "empty-gz": ("train_images", lambda a: (b"", True), "is empty"),
    "empty-raw": ("test_labels", lambda a: (b"", False), "is empty"),
}


def make_bad(directory: Path, case: str) -> tuple[str, str]:
    """A fake dataset in `directory` with one file broken as `case` says -> (file name, expected problem)."""
    arrays = write_fake_dataset(directory, N_TRAIN, N_TEST)
    role, make, problem = CASES[case]
    data, gz_name = make(arrays)
    return put(directory, role, data, gz_name), problem


def assert_no_runs(runs: Path) -> None:
    """Nothing was created: the data is loaded before the run directory."""
    assert not runs.exists(), sorted(p.name for p in runs.rglob("*"))


@pytest.mark.parametrize("case", list(CASES))
def test_train_on_a_bad_idx_file(tmp_path, capsys, case):
    data = tmp_path / "data"
    name, problem = make_bad(data, case)
    before = snapshot(data)
    rc, out, err = cli(["train", "--dataset", "fashion-mnist", "--data-dir", data, "--epochs", 1,
                        "--runs-dir", tmp_path / "runs", "--name", "bad"], capsys)
    assert rc == 2 and out == ""
    message = assert_one_line_error(err, "train", problem)
    assert message.startswith(f"{name}: "), message
    assert_no_runs(tmp_path / "runs")
    assert snapshot(data) == before  # linnet never "repairs" or deletes a user's file


@pytest.mark.parametrize("case", list(CASES))
def test_data_command_on_a_bad_idx_file(tmp_path, capsys, case):
    data = tmp_path / "data"
    name, problem = make_bad(data, case)
    rc, out, err = cli(["data", "--dataset", "fashion-mnist", "--data-dir", data], capsys)
    assert rc == 2 and out == ""
    assert assert_one_line_error(err, "data", problem).startswith(f"{name}: ")


@pytest.mark.parametrize("case,problem", [
    ("truncated-payload", f"header says {N_TRAIN}x28x28 = {N_TRAIN * 784} bytes, file has {N_TRAIN * 784 - 100}"),
    ("trailing-bytes-raw", f"header says {N_TRAIN}x28x28 = {N_TRAIN * 784} bytes, file has {N_TRAIN * 784 + 1}"),
    ("truncated-header", "header declares 1 dimensions (8 header bytes), file has 6 bytes"),
    ("empty-raw", "is empty"),
])
def test_train_with_mmap_on_a_bad_raw_file(tmp_path, capsys, case, problem):
    """--mmap reads the header itself and maps the rest: the same checks must hold there."""
    data = tmp_path / "data"
    write_fake_dataset(data, N_TRAIN, N_TEST, gz=False)
    arrays = write_fake_dataset(tmp_path / "staging", N_TRAIN, N_TEST, gz=False)
    role, make, _ = CASES[case]
    bad, _ = make(arrays)
    name = STANDARD_NAMES[role].removesuffix(".gz")
    (data / name).write_bytes(bad)
    rc, _, err = cli(["train", "--dataset", "mnist", "--data-dir", data, "--mmap", "--epochs", 1,
                      "--runs-dir", tmp_path / "runs"], capsys)
    assert rc == 2
    assert assert_one_line_error(err, "train", problem).startswith(f"{name}: ")
    assert_no_runs(tmp_path / "runs")


def _inconsistent(directory: Path, case: str) -> tuple[str, str]:
    arrays = write_fake_dataset(directory, N_TRAIN, N_TEST)
    if case == "fewer-labels":
        write_idx(directory / STANDARD_NAMES["train_labels"], arrays["train_labels"][:-1])
        return "train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz", f"{N_TRAIN} images but {N_TRAIN - 1} labels"
    if case == "more-labels":
        write_idx(directory / STANDARD_NAMES["test_labels"], np.concatenate([arrays["test_labels"], np.array([1, 2], dtype=np.uint8)]))
        return "t10k-images-idx3-ubyte.gz / t10k-labels-idx1-ubyte.gz", f"{N_TEST} images but {N_TEST + 2} labels"
    if case == "label-10":
        labels = arrays["train_labels"].copy()
        labels[7] = 10  # == the number of classes: one past the last
        write_idx(directory / STANDARD_NAMES["train_labels"], labels)
        return "train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz", "label 10 is out of range for 10 classes (0..9)"
    if case == "label-255":
        labels = arrays["test_labels"].copy()
        labels[-1] = 255
        write_idx(directory / STANDARD_NAMES["test_labels"], labels)
        return "t10k-images-idx3-ubyte.gz / t10k-labels-idx1-ubyte.gz", "label 255 is out of range for 10 classes (0..9)"
    if case == "test-images-of-another-size":
        small = np.zeros((N_TEST, 14, 14), dtype=np.uint8)
        write_idx(directory / STANDARD_NAMES["test_images"], small)
        return ("train-images-idx3-ubyte.gz / t10k-images-idx3-ubyte.gz",
                "the train images are 28x28 but the test images are 14x14; the sizes must agree")
    raise AssertionError(case)


INCONSISTENT = ["fewer-labels", "more-labels", "label-10", "label-255", "test-images-of-another-size"]


@pytest.mark.parametrize("case", INCONSISTENT)
def test_train_on_an_inconsistent_dataset(tmp_path, capsys, case):
    data = tmp_path / "data"
    names, problem = _inconsistent(data, case)
    rc, out, err = cli(["train", "--dataset", "fashion-mnist", "--data-dir", data, "--epochs", 1,
                        "--runs-dir", tmp_path / "runs", "--name", "bad"], capsys)
    assert rc == 2 and out == ""
    message = assert_one_line_error(err, "train", names, problem)
    assert message.startswith(names.split(" / ")[0]), message
    assert_no_runs(tmp_path / "runs")


@pytest.mark.parametrize("case", INCONSISTENT)
def test_data_command_on_an_inconsistent_dataset(tmp_path, capsys, case):
    data = tmp_path / "data"
    names, problem = _inconsistent(data, case)
    rc, out, err = cli(["data", "--dataset", "mnist", "--data-dir", data], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "data", names, problem)


def test_a_good_dataset_still_trains(tmp_path, capsys):
    """The control: the same fake files, unbroken, train (so the failures above are the faults')."""
    data = tmp_path / "data"
    write_fake_dataset(data, N_TRAIN, N_TEST)
    rc, _, err = cli(["train", "--dataset", "fashion-mnist", "--data-dir", data, "--epochs", 1, "--quiet",
                      "--runs-dir", tmp_path / "runs", "--name", "good"], capsys)
    assert rc == 0, err
    assert (tmp_path / "runs" / "good" / "summary.json").is_file()
