"""Fault: the training process is stopped from outside: SIGINT, SIGTERM, SIGKILL, even mid-checkpoint.

Expected: on SIGINT / SIGTERM the run directory keeps the checkpoint of the last complete epoch, the
message says how to resume, the exit code is 130 / 143. After SIGKILL (mid-epoch, or while the
checkpoint is being written) the previous checkpoint still loads, nothing partial sits under a final
name, and `linnet train --resume` takes over the dead process's lock and continues exactly.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import textwrap

import pytest
from fault_tools import (assert_same_weights, cli, finish, load_checkpoint, metrics_epochs, spawn, temp_files,
                         wait_until)
from helpers_train import no_plots, write_idx_dataset  # noqa: F401

from linnet.runs import CHECKPOINT, LOCK, CheckpointError

def slow(data, epochs: int = 200) -> list:
    """Generated IDX files in `data` (no scikit-learn to import: a process starts ~1 s sooner than on
    digits); 1000 single-image steps an epoch, ~0.2 s: 200 epochs is far more than a test waits for."""
    return ["--dataset", "fashion-mnist", "--data-dir", data, "--batch-size", 1, "--epochs", epochs,
            "--quiet", "--device", "cpu"]


def straight_run_weights(tmp_path, capsys, data, epochs: int):
    """The weights of an uninterrupted in-process run of the same settings, `epochs` long."""
    argv = ["train", *slow(data, epochs), "--runs-dir", tmp_path / "straight", "--name", f"e{epochs}"]
    rc, _, err = cli(argv, capsys)
    assert rc == 0, err
    return load_checkpoint(tmp_path / "straight" / f"e{epochs}")[0]


def assert_resumes_exactly(tmp_path, capsys, data, run_dir, completed: int) -> None:
    """`--resume RUN --epochs 1` works, continues the count and equals an uninterrupted run."""
    rc, out, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
    assert rc == 0, err
    assert f"run directory: {run_dir}" in out
    state, history, _ = load_checkpoint(run_dir)
    assert [r.epoch for r in history] == list(range(1, completed + 2))
    assert metrics_epochs(run_dir) == list(range(1, completed + 2))
    assert not (run_dir / LOCK).exists()
    assert temp_files(run_dir) == []  # a leftover of a killed write is cleared when the lock is taken
    assert_same_weights(state, straight_run_weights(tmp_path, capsys, data, completed + 1))


def assert_final_files_whole(run_dir) -> None:
    """Every file under its final name is complete: the JSON parses, the CSV has whole rows."""
    json.loads((run_dir / "config.json").read_text())
    if (run_dir / "summary.json").exists():
        json.loads((run_dir / "summary.json").read_text())
    text = (run_dir / "metrics.csv").read_text()
    assert text.endswith("\n") and all(line.count(",") == 6 for line in text.splitlines())


# A driver that runs the real CLI with linnet.atomic's view of `os` wrapped, so that the process
# SIGKILLs itself during the Nth checkpoint write: after the temporary file is complete but before
# the rename ("before-rename"), or halfway through writing it ("mid-write").
KILL_DURING_CHECKPOINT = textwrap.dedent("""
    import os, signal, sys
    import linnet.atomic as atomic
    from linnet.cli import main

    MODE, NTH = sys.argv[1], int(sys.argv[2])
    state = {"opened": 0, "renamed": 0, "path": ""}

    class Half:
        def __init__(self, f):
            self.f = f
        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            os.fsync(self.f.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        def __getattr__(self, name):
            return getattr(self.f, name)
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    class Os:
        def __getattr__(self, name):
            return getattr(os, name)
        def open(self, path, *args):
            state["path"] = os.fspath(path)
            return os.open(path, *args)
        def fdopen(self, fd, *args, **kwargs):
            f = os.fdopen(fd, *args, **kwargs)
            if ".checkpoint.safetensors." in state["path"]:
                state["opened"] += 1
                if MODE == "mid-write" and state["opened"] == NTH:
                    return Half(f)
            return f
        def replace(self, src, dst):
            if os.fspath(dst).endswith("/checkpoint.safetensors"):
                state["renamed"] += 1
                if MODE == "before-rename" and state["renamed"] == NTH:
                    os.kill(os.getpid(), signal.SIGKILL)
            return os.replace(src, dst)

    atomic.os = Os()
    sys.exit(main(sys.argv[3:]))
""")




@pytest.fixture(scope="module")
def stopped(tmp_path_factory):
    """Every fault of this module at once: the five processes start together, not one after another.

    Three slow runs get SIGINT, SIGTERM, SIGKILL as soon as their first epoch is complete; two
    drivers SIGKILL themselves during their third checkpoint write.
    -> (data dir, {key: (rc, stdout, stderr, run dir)})
    """
    root = tmp_path_factory.mktemp("stopped")
    data = root / "data"
    write_idx_dataset(data, n_train=1000, n_test=100)
    procs = {key: spawn(["train", *slow(data), "--runs-dir", root, "--name", key]) for key in SIGNALS}
    # checkpoint writes: 1st = epoch 0 (before training), 2nd = epoch 1, 3rd = epoch 2 <- killed there
    for mode in ("before-rename", "mid-write"):
        procs[mode] = spawn([mode, 3, "train", *slow(data, 5), "--runs-dir", root, "--name", mode],
                            script=KILL_DURING_CHECKPOINT)
    try:
        pending = dict(SIGNALS)
        wait_until(lambda: _signal_when_ready(root, procs, pending), timeout=60,
                   what=f"a complete first epoch in each of {sorted(pending)}")
        results = {key: (*finish(proc, timeout=40), root / key) for key, proc in procs.items()}
        yield data, results
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def _signal_when_ready(root, procs, pending) -> bool:
    for key, sig in list(pending.items()):
        if len(metrics_epochs(root / key)) >= 1:
            procs[key].send_signal(sig)
            del pending[key]
        elif procs[key].poll() is not None:
            raise AssertionError(f"{key} run exited ({procs[key].returncode}) early:\n{procs[key].communicate()}")
    return not pending


@pytest.mark.parametrize("key,code,name", [("SIGINT", 130, "Ctrl-C"), ("SIGTERM", 143, "SIGTERM")])
def test_sigint_and_sigterm_mid_run_keep_the_last_epoch_and_say_how_to_resume(stopped, tmp_path, capsys, no_plots,
                                                                               key, code, name):
    data, results = stopped
    rc, out, err, run_dir = results[key]
    assert rc == code, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    m = re.fullmatch(rf"linnet train: training stopped after epoch (\d+) of (\d+) \({name}\); (.+) keeps its "
                     r"completed epochs, figures and report\. Continue with: linnet train --resume (.+)\n", err)
    assert m and m.group(3) == m.group(4) == str(run_dir), err
    completed = int(m.group(1))
    assert (run_dir / "report.html").is_file() and (run_dir / "summary.json").is_file()
    assert completed >= 1
    _, history, _ = load_checkpoint(run_dir)
    assert [r.epoch for r in history] == list(range(1, completed + 1))
    assert metrics_epochs(run_dir) == list(range(1, completed + 1))  # the csv agrees with the checkpoint
    assert not (run_dir / LOCK).exists() and temp_files(run_dir) == []
    assert_final_files_whole(run_dir)
    assert_resumes_exactly(tmp_path, capsys, data, run_dir, completed)


def test_sigkill_mid_epoch_then_resume_takes_over_the_stale_lock(stopped, tmp_path, capsys, no_plots):
    data, results = stopped
    rc, _, _, run_dir = results["SIGKILL"]
    assert rc == -signal.SIGKILL
    pid = int((run_dir / LOCK).read_text())  # the dead process's lock is still there
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    _, history, _ = load_checkpoint(run_dir)
    completed = len(history)
    assert completed >= 1 and [r.epoch for r in history] == list(range(1, completed + 1))
    assert_final_files_whole(run_dir)
    assert_resumes_exactly(tmp_path, capsys, data, run_dir, completed)


@pytest.mark.parametrize("mode", ["before-rename", "mid-write"])
def test_sigkill_while_writing_the_checkpoint(stopped, tmp_path, capsys, no_plots, mode):
    data, results = stopped
    rc, _, err, run_dir = results[mode]
    assert rc == -signal.SIGKILL, err
    leftovers = temp_files(run_dir)
    assert len(leftovers) == 1 and re.fullmatch(r"\.checkpoint\.safetensors\.[0-9a-f]{12}\.tmp", leftovers[0])
    # the fault happened as intended: the temporary file holds epoch 2, whole or cut in half
    probe = tmp_path / "probe"
    probe.mkdir()
    shutil.copy(run_dir / leftovers[0], probe / CHECKPOINT)
    shutil.copy(run_dir / "metrics.csv", probe)   # epoch 1's row; epoch 2's is in the checkpoint (metricslog)
    if mode == "before-rename":
        assert [r.epoch for r in load_checkpoint(probe)[1]] == [1, 2]
    else:
        with pytest.raises(CheckpointError, match="truncated|damaged"):
            load_checkpoint(probe)
    state, history, _ = load_checkpoint(run_dir)  # under the final name: the previous checkpoint, whole
    assert [r.epoch for r in history] == [1] and metrics_epochs(run_dir) == [1]
    assert_final_files_whole(run_dir)
    assert_resumes_exactly(tmp_path, capsys, data, run_dir, completed=1)
