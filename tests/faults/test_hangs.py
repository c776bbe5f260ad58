"""Fault: things that used to hang or block forever: a FIFO or a device where an IDX file is expected;
a stale `.lock` naming a pid that now belongs to an unrelated live process, or -1, or a huge number.

Expected: only regular files are data, anything else is one line naming it (exit 2, nothing created);
the run's lock is an OS lock that dies with its process, so a leftover .lock never blocks a resume,
whatever it says, and a run that is really busy is refused with a message naming the lock file and
how to clear it. The subprocesses run under a timeout: a regression fails instead of hanging.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import STANDARD_NAMES, write_fake_dataset
from fault_tools import SRC, assert_one_line_error, child_env, cli, finish, load_checkpoint, make_run, spawn
from helpers_train import no_plots  # noqa: F401

from linnet.runs import LOCK

TIMEOUT = 60  # seconds a case may take before it counts as hung


def fifo_dataset(d, name: str, gz: bool = True):
    write_fake_dataset(d, 50, 20, gz=gz)
    (d / name).unlink()
    os.mkfifo(d / name)
    return d


@pytest.fixture(scope="module")
def not_regular(tmp_path_factory):
    """Three `linnet` processes started together, each meeting a non-regular file -> their results."""
    root = tmp_path_factory.mktemp("hangs")
    images, labels = STANDARD_NAMES["train_images"], STANDARD_NAMES["test_labels"].removesuffix(".gz")
    fifo_gz = fifo_dataset(root / "fifo-gz", images)
    fifo_raw = fifo_dataset(root / "fifo-raw", labels, gz=False)
    zero = root / "dev-zero"
    write_fake_dataset(zero, 50, 20, gz=False)
    (zero / labels).unlink()
    (zero / labels).symlink_to("/dev/zero")
    cases = {
        "fifo-gz": (["data", "--dataset", "fashion-mnist", "--data-dir", fifo_gz], images, "a FIFO (named pipe)"),
        "fifo-raw-mmap": (["train", "--dataset", "fashion-mnist", "--data-dir", fifo_raw, "--mmap", "--runs-dir",
                           root / "runs"], labels, "a FIFO (named pipe)"),
        "dev-zero": (["train", "--dataset", "fashion-mnist", "--data-dir", zero, "--runs-dir", root / "runs"],
                     labels, "a character device"),
    }
    procs = {name: spawn(argv) for name, (argv, _, _) in cases.items()}
    try:
        results = {name: finish(proc, timeout=TIMEOUT) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return {name: (results[name], file, kind, cases[name][0][0]) for name, (_, file, kind) in cases.items()}, root


@pytest.mark.parametrize("case", ["fifo-gz", "fifo-raw-mmap", "dev-zero"])
def test_a_fifo_or_a_device_where_an_idx_file_is_expected_is_one_line(not_regular, case):
    results, root = not_regular
    (rc, out, err), file, kind, command = results[case]
    assert rc == 2 and out == "", err
    assert_one_line_error(err, command, f"{file}: is {kind}, not a regular file; IDX data must be a regular file")
    assert not (root / "runs").exists()


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("lock-base"), "base")


@pytest.fixture
def unrelated_process():
    """A live process that is not linnet (as after a reboot, when a pid is reused)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait(timeout=10)


@pytest.mark.parametrize("content", ["unrelated-live-pid", "-1", "0", "99999999999999999999999", "own-pid",
                                     "not a pid\n\x00"])
def test_a_leftover_lock_never_blocks_a_resume(base_run, tmp_path, capsys, no_plots, unrelated_process, content):
    run_dir = tmp_path / "run"
    shutil.copytree(base_run, run_dir)
    content = {"unrelated-live-pid": str(unrelated_process), "own-pid": str(os.getpid())}.get(content, content)
    (run_dir / LOCK).write_text(content)
    rc, out, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
    assert rc == 0, err
    assert len(load_checkpoint(run_dir)[1]) == 3
    assert not (run_dir / LOCK).exists()


def test_a_new_run_on_a_leftover_directory_is_not_said_to_be_in_use(base_run, tmp_path, capsys, unrelated_process):
    shutil.copytree(base_run, tmp_path / "runs" / "base")
    (tmp_path / "runs" / "base" / LOCK).write_text(str(unrelated_process))
    rc, out, err = cli(["train", "--dataset", "digits", "--runs-dir", tmp_path / "runs", "--name", "base"], capsys)
    assert rc == 2
    assert_one_line_error(err, "train", "already exists; resume it with --resume")


HOLDER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    from pathlib import Path
    from linnet.runlock import acquire
    acquire(Path(sys.argv[1]))
    print("locked", flush=True)
    sys.stdin.read()
""")


def test_a_busy_run_names_its_lock_file_and_how_to_clear_it(base_run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(base_run, run_dir)
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(run_dir), str(SRC)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=child_env()) as holder:
        try:
            assert holder.stdout.readline().strip() == "locked"
            rc, out, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
        finally:
            holder.kill()
            holder.wait(timeout=10)
    assert rc == 2
    assert_one_line_error(err, "train", f"{run_dir} is in use by another linnet process (pid {holder.pid})",
                          f"holds the lock {run_dir / LOCK}", f"kill {holder.pid}", "released when that process ends")
    # killed without a chance to clean up: its .lock file stays, and does not block
    assert (run_dir / LOCK).exists()
    rc, out, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)
    assert rc == 0, err
