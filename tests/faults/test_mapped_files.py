"""Fault: another process writes to or truncates an IDX file that `linnet train --mmap` has mapped,
while an epoch reads it (which used to end the run with SIGBUS: exit 135, no message, a stale lock).

Expected (Linux, a file linnet may lease): the other process is held back (a non-blocking open for
writing fails at once); linnet stops with one line naming the file, exit 2; the checkpoint of the
last complete epoch loads; a `--resume` is never blocked by a lock: on the damaged file it is one
line, on the file made whole again it continues.
"""
from __future__ import annotations

import os

import pytest
from conftest import STANDARD_NAMES, write_fake_dataset
from fault_tools import assert_one_line_error, cli, finish, load_checkpoint, spawn, wait_until
from helpers_train import no_plots  # noqa: F401

from linnet.runs import CHECKPOINT


def test_a_mapped_file_changed_during_training_stops_the_run_with_one_line(tmp_path, capsys, no_plots):
    data, runs = tmp_path / "data", tmp_path / "runs"
    write_fake_dataset(data, 600, 100, gz=False)
    images = data / STANDARD_NAMES["train_images"].removesuffix(".gz")
    proc = spawn(["train", "--dataset", "fashion-mnist", "--data-dir", data, "--mmap", "--batch-size", 1,
                  "--epochs", 1000, "--quiet", "--no-plots", "--device", "cpu", "--runs-dir", runs, "--name", "m"])
    run_dir = runs / "m"
    try:
        wait_until(lambda: (run_dir / CHECKPOINT).exists(), proc, timeout=120, what="training to start")
        with pytest.raises(BlockingIOError):   # held back by linnet's lease, and linnet told
            os.open(images, os.O_WRONLY | os.O_NONBLOCK)
        rc, out, err = finish(proc, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", f"{images}: another process is writing to or truncating this memory-mapped "
                                        "data file; linnet stopped before reading it again")
    _, history, _ = load_checkpoint(run_dir)
    # linnet gone, the file is truncated now: a resume is not blocked by a lock, and names the file
    whole = images.read_bytes()
    os.truncate(images, 16)
    rc, out, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
    assert rc == 2
    assert_one_line_error(err, "train", f"{images.name}: header says 600x28x28 = 470400 bytes, file has 0")
    images.write_bytes(whole)
    rc, out, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
    assert rc == 0, err
    assert len(load_checkpoint(run_dir)[1]) == len(history) + 1
