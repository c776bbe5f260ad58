"""Fault: the process's streams and signals while starting: a reader that leaves (`| head -1`), stdout
closed or on a full disk (/dev/full), an ASCII-only terminal and a non-ASCII run name, a name that is
not UTF-8, Ctrl-C while Python is still importing.

Expected: output never cuts the work short; no traceback ever; a failure to write stdout other than
a reader leaving is one line at the end (exit 2); a name that cannot be written into the run's files
is refused before anything exists; Ctrl-C at any instant is one line and exit 130.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from fault_tools import PYTHON, child_env, finish, metrics_epochs, spawn, wait_until
from helpers_train import write_idx_dataset

EPOCHS = 4


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Generated IDX files (no scikit-learn to import, as for digits: each process starts sooner)."""
    directory = tmp_path_factory.mktemp("idx")
    write_idx_dataset(directory, n_train=200, n_test=50)
    return directory


def train_argv(data, runs, name, epochs: int = EPOCHS) -> list:
    return ["train", "--dataset", "fashion-mnist", "--data-dir", data, "--epochs", epochs, "--batch-size", 50,
            "--device", "cpu", "--no-plots", "--runs-dir", runs, "--name", name]


def linnet_shell(command: str, cwd) -> subprocess.CompletedProcess:
    """`python -m linnet ...` through bash, for redirections (>&-, >/dev/full, | head)."""
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, env=child_env(),
                          cwd=cwd)


def assert_whole_run(run_dir, epochs: int = EPOCHS) -> None:
    assert metrics_epochs(run_dir) == list(range(1, epochs + 1))
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == epochs
    assert (run_dir / "report.html").read_text().rstrip().endswith("</html>")


def test_a_reader_that_leaves_after_one_line_does_not_cut_the_run_short(data, tmp_path):
    argv = " ".join(map(str, train_argv(data, tmp_path, "piped")))
    out = linnet_shell(f"set -o pipefail; {PYTHON} -m linnet {argv} | head -1", tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("epoch 1/4") and out.stdout.count("\n") == 1
    assert "Traceback" not in out.stderr and out.stderr == ""
    assert_whole_run(tmp_path / "piped")


@pytest.mark.parametrize("redirect, rc, says", [
    (">&-", 0, None),                                            # closed stdout: nothing to say it to
    (">/dev/full", 2, "cannot write to standard output (No space left on device); its output was dropped"),
])
def test_a_stdout_that_cannot_be_written_does_not_stop_the_run(data, tmp_path, redirect, rc, says):
    if redirect == ">/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    argv = " ".join(map(str, train_argv(data, tmp_path, "out")))
    out = linnet_shell(f"{PYTHON} -m linnet {argv} {redirect}", tmp_path)
    assert out.returncode == rc and "Traceback" not in out.stderr, out.stderr
    if says:
        assert out.stderr == f"linnet train: error: {says}\n"
    else:
        assert out.stderr == ""
    assert_whole_run(tmp_path / "out")


def test_an_ascii_terminal_and_a_non_ascii_run_name(data, tmp_path):
    env = {**child_env(), "PYTHONIOENCODING": "ascii"}
    proc = subprocess.run([PYTHON, "-m", "linnet", *map(str, train_argv(data, tmp_path, "café-ü"))],
                          capture_output=True, text=True, timeout=120, env=env, encoding="ascii", errors="strict")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert f"run directory: {tmp_path}/caf\\xe9-\\xfc" in proc.stdout   # escaped, not a crash
    assert_whole_run(tmp_path / "café-ü")


@pytest.mark.parametrize("flag", ["--name", "--runs-dir"])
def test_a_name_that_is_not_utf8_is_refused_before_anything_exists(data, tmp_path, flag):
    argv = [os.fsencode(str(a)) for a in train_argv(data, tmp_path / "runs", "ok")]
    i = argv.index(flag.encode())
    argv[i + 1] = os.fsencode(str(tmp_path / "bad")) + b"\xff" if flag == "--runs-dir" else b"run\xff"
    proc = subprocess.run([os.fsencode(PYTHON), b"-m", b"linnet", *argv], capture_output=True, timeout=120,
                          env=child_env())
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith("linnet train: error: The ") and "must be valid UTF-8 text" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []      # neither runs dir nor run directory


def entry_point_ran(proc) -> bool:
    """linnet's entry point has run its first line: the process catches SIGTERM (Python alone does not).
    Before that the interpreter itself is starting (site, encodings): a Ctrl-C there is Python's."""
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/PID/status")
def test_ctrl_c_while_starting_is_one_line_and_exit_130(data, tmp_path):
    """SIGINT at several instants of the first second and a half (linnet's imports, argparse, torch,
    the data, the first epochs): always one line and exit 130; never a traceback, never lost."""
    delays = (0.0, 0.05, 0.15, 0.3, 0.6, 1.0, 1.5)
    procs = [spawn(train_argv(data, tmp_path, f"r{i}", epochs=50)) for i in range(len(delays))]
    for proc, delay in zip(procs, delays):
        wait_until(lambda: entry_point_ran(proc), proc, what="linnet's entry point")
    start = time.monotonic()
    for proc, delay in zip(procs, delays):
        time.sleep(max(0.0, start + delay - time.monotonic()))
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        rc, _, err = finish(proc)
        assert rc == 130 and "Traceback" not in err, err
        assert err.count("\n") == 1 and err.startswith("linnet"), err
