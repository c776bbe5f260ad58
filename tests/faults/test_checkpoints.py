"""Fault: the checkpoint of a run is truncated, hand-edited, crafted to run code when loaded, or
cannot be written because the disk is full.

Expected, for each of `linnet train --resume`, `linnet evaluate` and `linnet predict`: one line on
stderr naming the checkpoint file, exit code 2, no traceback; the run directory is left exactly as
it was (same bytes, same modification times, no lock); loading never executes code. A full disk
while checkpointing is one line too (exit 2), and the previous checkpoint stays whole and resumable.
"""
from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import pytest
import torch
from fault_tools import (assert_one_line_error, assert_same_weights, cli, load_checkpoint, make_run, metrics_epochs,
                         snapshot, temp_files)
from helpers_train import no_plots, rewrite_checkpoint_metadata  # noqa: F401

from linnet.runs import CHECKPOINT, LOCK

EPOCHS = 2


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A 2-epoch digits run that every test copies before breaking its checkpoint."""
    return make_run(tmp_path_factory.mktemp("base"), "base", epochs=EPOCHS)


@pytest.fixture
def image(tmp_path) -> Path:
    from PIL import Image
    path = tmp_path / "digit.png"
    Image.new("L", (8, 8), 0).save(path)
    return path


def header_of(data: bytes) -> tuple[int, dict]:
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8:8 + n])


def with_header(data: bytes, header: dict) -> bytes:
    """The same tensor bytes behind an edited JSON header (padded to 8 bytes, as safetensors writes it)."""
    n, _ = header_of(data)
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    return struct.pack("<Q", len(new)) + new + data[8 + n:]


def edit_header(path: Path, edit) -> None:
    data = path.read_bytes()
    _, header = header_of(data)
    edit(header)
    path.write_bytes(with_header(data, header))


def set_first_weight(path: Path, four_bytes: bytes) -> None:
    """Overwrite the first float32 of model.W in place (little-endian bytes)."""
    data = bytearray(path.read_bytes())
    n, header = header_of(bytes(data))
    start = 8 + n + header["model.W"]["data_offsets"][0]
    data[start:start + 4] = four_bytes
    path.write_bytes(bytes(data))


def _history_without_last_two(path: Path) -> None:
    """metrics.csv (the history the checkpoint vouches for) loses its last two rows (one missing row
    is the state of a run killed between its checkpoint and the append: the checkpoint has it)."""
    metrics = path.parent / "metrics.csv"
    metrics.write_text("".join(metrics.read_text().splitlines(keepends=True)[:-2]))


def _accuracy_edited(path: Path) -> None:
    metrics = path.parent / "metrics.csv"
    lines = metrics.read_text().splitlines(keepends=True)
    cells = lines[-1].split(",")
    cells[5] = "0.999"                                          # test_acc of the last epoch
    lines[-1] = ",".join(cells)
    metrics.write_text("".join(lines))


def _shape(shape):
    def edit(h):
        h["model.W"]["shape"] = shape
    return edit


def _dtype(dtype):
    def edit(h):
        h["model.W"]["dtype"] = dtype
    return edit


def _rename_tensor(h):
    h["model.V"] = h.pop("model.W")


def _flip_header_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[9] ^= 0xFF  # inside the JSON header
    path.write_bytes(bytes(data))


# case -> (how to break the file, what the message says after the file name: a string or several)
CASES = {
    "empty": (lambda p: p.write_bytes(b""), "truncated checkpoint (0 bytes)"),
    "truncated-to-4-bytes": (lambda p: p.write_bytes(p.read_bytes()[:4]), "truncated checkpoint (4 bytes)"),
    "truncated-in-header": (lambda p: p.write_bytes(p.read_bytes()[:100]), "truncated checkpoint (header of"),
    "truncated-in-tensors": (lambda p: p.write_bytes(p.read_bytes()[:-10]), "damaged checkpoint ("),
    "header-byte-flipped": (_flip_header_byte, "damaged checkpoint header"),
    "epoch-edited": (lambda p: rewrite_checkpoint_metadata(p, epoch="5"),
                     f"checkpoint says epoch 5 but its history has {EPOCHS} epochs; it was edited"),
    "epoch-not-a-number": (lambda p: rewrite_checkpoint_metadata(p, epoch="two"),
                           "checkpoint metadata is damaged or edited"),
    "field-added": (lambda p: rewrite_checkpoint_metadata(p, history='[{"epoch": 1,'),
                    "checkpoint metadata is damaged or edited"),
    "history-rows-removed": (_history_without_last_two, f"checkpoint says epoch {EPOCHS} but its history has "
                                                        f"{EPOCHS - 2} epochs; it was edited"),
    "history-digest-edited": (lambda p: rewrite_checkpoint_metadata(p, metrics_sha256="0" * 64),
                              f"the first {EPOCHS} rows of "),
    "format-edited": (lambda p: rewrite_checkpoint_metadata(p, format="linnet-checkpoint/99"),
                      "not a linnet checkpoint (format 'linnet-checkpoint/99'"),
    "metadata-removed": (lambda p: edit_header(p, lambda h: h.pop("__metadata__")),
                         "not a linnet checkpoint (no metadata)"),
    "weight-set-to-nan": (lambda p: set_first_weight(p, struct.pack("<f", float("nan"))),
                          "weights 'W' contain NaN or Inf"),
    "weight-set-to-inf": (lambda p: set_first_weight(p, struct.pack("<f", float("-inf"))),
                          "weights 'W' contain NaN or Inf"),
    "shape-transposed": (lambda p: edit_header(p, _shape([10, 64])), "its contents do not match the digest linnet wrote with them; the file was edited or damaged"),
    "shape-inconsistent": (lambda p: edit_header(p, _shape([64, 11])), "damaged checkpoint ("),
    "dtype-float64": (lambda p: edit_header(p, _dtype("F64")), "damaged checkpoint ("),
    "dtype-int32": (lambda p: edit_header(p, _dtype("I32")), "weights 'W' are int32, expected floating point"),
    "tensor-renamed": (lambda p: edit_header(p, _rename_tensor), "its contents do not match the digest linnet wrote with them; the file was edited or damaged"),
    # consistent edits that every structural check accepts: only the digest can tell
    "weight-changed": (lambda p: set_first_weight(p, struct.pack("<f", 0.5)), "its contents do not match the digest linnet wrote with them; the file was edited or damaged"),
    "accuracy-edited": (_accuracy_edited, "are not those it was written with; the history was edited"),
}
COMMANDS = ["resume", "evaluate", "predict"]


def argv_for(command: str, run_dir: Path, image: Path) -> list:
    if command == "resume":
        return ["train", "--resume", run_dir, "--epochs", 1, "--quiet"]
    if command == "evaluate":
        return ["evaluate", run_dir]
    return ["predict", run_dir, image]


def test_the_base_run_works_with_every_command(base_run, tmp_path, capsys, image, no_plots):
    """The control: unbroken, the same copy evaluates, predicts and resumes (so the faults cause the errors)."""
    run_dir = tmp_path / "run"
    shutil.copytree(base_run, run_dir)
    for command in ("evaluate", "predict", "resume"):
        rc, out, err = cli(argv_for(command, run_dir, image), capsys)
        assert rc == 0 and err == "" and out, (command, err)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_checkpoint_is_one_clear_line_and_nothing_changes(base_run, tmp_path, capsys, image, case, command):
    run_dir = tmp_path / "run"
    shutil.copytree(base_run, run_dir)
    breaker, problem = CASES[case]
    breaker(run_dir / CHECKPOINT)
    before = snapshot(run_dir)
    rc, out, err = cli(argv_for(command, run_dir, image), capsys)
    assert rc == 2 and out == ""
    name = "train" if command == "resume" else command
    message = assert_one_line_error(err, name, *([problem] if isinstance(problem, str) else problem))
    assert message.startswith(f"{run_dir / CHECKPOINT}: "), message
    assert snapshot(run_dir) == before  # nothing overwritten, not even touched
    assert not (run_dir / LOCK).exists()


# ---------------------------------------------------------------------------- code in a checkpoint

class Payload:
    """Unpickling this object runs `Path(marker).touch()`: the classic pickle attack."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def crafted(path: Path, marker: Path, how: str) -> None:
    obj = {"model.W": torch.zeros(64, 10), "model.b": torch.zeros(10), "evil": Payload(marker)}
    if how == "torch-zip":
        torch.save(obj, path)
    elif how == "torch-legacy":
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(obj, protocol=2))


HOWS = ["torch-zip", "torch-legacy", "plain-pickle"]


@pytest.mark.parametrize("how", HOWS)
def test_the_payload_really_runs_code_when_unpickled(tmp_path, how):
    """The control: the crafted file is a working exploit for anything that unpickles it."""
    marker = tmp_path / "pwned"
    crafted(tmp_path / "evil.pt", marker, how)
    if how == "plain-pickle":
        pickle.loads((tmp_path / "evil.pt").read_bytes())
    else:
        torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("how", HOWS)
def test_a_checkpoint_crafted_to_run_code_is_refused_and_never_runs(base_run, tmp_path, capsys, image, how, command):
    run_dir = tmp_path / "run"
    shutil.copytree(base_run, run_dir)
    marker = tmp_path / "pwned"
    crafted(run_dir / CHECKPOINT, marker, how)
    before = snapshot(run_dir)
    rc, out, err = cli(argv_for(command, run_dir, image), capsys)
    assert rc == 2 and out == ""
    message = assert_one_line_error(err, "train" if command == "resume" else command)
    assert message == (f"{run_dir / CHECKPOINT}: a pickle (torch.save) file, not a safetensors checkpoint; "
                       "refused without unpickling it, since unpickling can run code")
    assert not marker.exists()
    assert snapshot(run_dir) == before


# ---------------------------------------------------------------------------- disk full while checkpointing

class DiskFullAt:
    """linnet.atomic's view of `os`, whose fsync fails with ENOSPC on the Nth checkpoint write."""

    def __init__(self, nth: int) -> None:
        self.nth, self.seen, self.path = nth, 0, ""

    def __getattr__(self, name):
        return getattr(os, name)

    def open(self, path, *args):
        self.path = os.fspath(path)
        return os.open(path, *args)

    def fsync(self, fd):
        if ".checkpoint.safetensors." in self.path:
            self.seen += 1
            if self.seen == self.nth:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.fsync(fd)


def test_disk_full_while_writing_a_checkpoint(tmp_path, capsys, monkeypatch, no_plots):
    import linnet.atomic as atomic
    fault = DiskFullAt(3)  # writes: epoch 0 (before training), epoch 1, epoch 2 <- the disk is full
    monkeypatch.setattr(atomic, "os", fault)
    argv = ["train", "--dataset", "digits", "--quiet", "--device", "cpu", "--runs-dir", tmp_path]
    rc, out, err = cli(argv + ["--epochs", 4, "--name", "full"], capsys)
    assert rc == 2 and out == "" and fault.seen == 3
    run_dir = tmp_path / "full"
    assert_one_line_error(err, "train", f"{run_dir / CHECKPOINT}: cannot write (No space left on device)")
    _, history, _ = load_checkpoint(run_dir)
    assert [r.epoch for r in history] == [1] and metrics_epochs(run_dir) == [1]  # the previous epoch, whole
    assert temp_files(run_dir) == [] and not (run_dir / LOCK).exists()
    monkeypatch.setattr(atomic, "os", os)  # space freed: the run continues exactly
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
    assert rc == 0, err
    assert cli(argv + ["--epochs", 2, "--name", "straight"], capsys)[0] == 0
    assert_same_weights(load_checkpoint(run_dir)[0], load_checkpoint(tmp_path / "straight")[0])
