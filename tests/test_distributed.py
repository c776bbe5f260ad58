"""linnet.distributed and linnet.launch: N processes on 127.0.0.1 give the weights of one process.

The multi-process runs are few and shared (module fixtures): one group of 2 and one of 3 processes
(tests/helpers_distributed.py, torchrun's environment set by hand), one `linnet train --nproc 2`
for the faults. Data: IDX files written here (437 training images of 10 x 10), batch sizes that
split unevenly over the ranks and leave a short last batch.
"""
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers_train import write_idx_dataset

from linnet import distributed, experiment
from linnet.cli import main
from linnet.config import TrainConfig
from linnet.data.loader import contiguous_share
from linnet.errors import ConfigError
from linnet.launch import _report, without_nproc
from linnet.runs import RunDir

HELPER = Path(__file__).with_name("helpers_distributed.py")
IMPLS = ("fast", "scratch", "concise")
# 437 = 4 * 101 + 33 = 4 * 100 + 37: a short last batch; 101 over 2 ranks and 100 over 3 are uneven.
BATCH = {2: 101, 3: 100}
TOL = 1e-6


def settings(tmp, name, impl="fast", world=2, epochs=2, **more) -> dict:
    return dict(dataset="fashion-mnist", data_dir=str(tmp / "data"), impl=impl, batch_size=BATCH[world],
                epochs=epochs, seed=3, plots=False, runs_dir=str(tmp / "runs"), name=name, **more)


def with_data(tmp: Path) -> Path:
    write_idx_dataset(tmp / "data", n_train=437, n_test=90, size=10)
    return tmp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_group(world: int, jobs: list, tmp: Path) -> list[tuple[str, str]]:
    """Run the jobs in `world` helper processes; (stdout, stderr) of each rank, all exit 0."""
    port, procs = free_port(), []
    for rank in range(world):
        cwd = tmp / f"cwd{rank}"
        cwd.mkdir()
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, str(HELPER), json.dumps(jobs)], cwd=cwd, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=240) for p in procs]
    for rank, (p, (_, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, f"rank {rank}: {err[-3000:]}"
    return outs


def weights(run_dir) -> dict:
    return RunDir(run_dir).load_checkpoint()[0]


def history(run_dir) -> list:
    return RunDir(run_dir).load_checkpoint()[1]


def max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k] - b[k]).abs().max().item() for k in a)


def one_process(**cfg):
    return experiment.train(TrainConfig(**cfg), quiet=True).run_dir


@pytest.fixture(scope="module")
def group2(tmp_path_factory):
    """2 processes: each implementation for 2 epochs; 4 epochs at once; 2 then resumed for 2 more."""
    tmp = with_data(tmp_path_factory.mktemp("group2"))
    jobs = [["train", settings(tmp, impl, impl)] for impl in IMPLS]
    jobs += [["train", settings(tmp, "whole", epochs=4)], ["train", settings(tmp, "half", epochs=2)],
             ["copy", str(tmp / "runs" / "half"), str(tmp / "runs" / "half-copy")],
             ["resume", str(tmp / "runs" / "half"), 2]]
    return tmp, run_group(2, jobs, tmp)


@pytest.fixture(scope="module")
def group3(tmp_path_factory):
    tmp = with_data(tmp_path_factory.mktemp("group3"))
    return tmp, run_group(3, [["train", settings(tmp, impl, impl, world=3)] for impl in IMPLS], tmp)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("world", [2, 3])
def test_n_processes_give_the_weights_of_one(world, impl, group2, group3):
    tmp, _ = {2: group2, 3: group3}[world]
    alone = one_process(**settings(tmp, f"alone-{impl}", impl, world))
    assert max_diff(weights(tmp / "runs" / impl), weights(alone)) <= TOL
    for many, one in zip(history(tmp / "runs" / impl), history(alone), strict=True):
        assert many.train_loss == pytest.approx(one.train_loss, rel=TOL)
        assert many.test_loss == pytest.approx(one.test_loss, rel=TOL)
        assert (many.train_acc, many.test_acc) == pytest.approx((one.train_acc, one.test_acc), abs=TOL)


def test_the_weights_move_from_the_start(group2):
    """The comparison above is no comparison of untrained weights: the steps changed them."""
    tmp, _ = group2
    start = experiment.build_model("softmax", "fast", 100, 10, generator=torch.Generator().manual_seed(3)).state_dict()
    assert max_diff(weights(tmp / "runs" / "fast"), start) > 100 * TOL


def test_only_rank_0_writes_and_speaks(group2, group3):
    for tmp, outs in (group2, group3):
        assert {p.name for p in (tmp / "runs" / "fast").iterdir()} >= {"config.json", "metrics.csv", "summary.json"}
        for rank, (out, err) in enumerate(outs[1:], start=1):
            assert (out, err) == ("", "")
            assert not any((tmp / f"cwd{rank}").iterdir())


def test_resume_with_the_same_processes_is_bit_exact(group2):
    tmp, _ = group2
    whole, half = tmp / "runs" / "whole", tmp / "runs" / "half"
    assert len(history(half)) == 4
    a, b = weights(whole), weights(half)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    untimed = lambda records: [dataclasses.replace(r, seconds=0.0) for r in records]   # noqa: E731
    assert untimed(history(whole)) == untimed(history(half))


def test_resume_of_a_two_process_run_in_one_process(group2):
    tmp, _ = group2
    resumed = experiment.resume(tmp / "runs" / "half-copy", epochs=2, quiet=True).run_dir
    assert len(history(resumed)) == 4
    assert max_diff(weights(resumed), weights(tmp / "runs" / "whole")) <= TOL


def children(pid: int) -> dict[int, str]:
    """{pid: RANK} of the processes whose parent is `pid` (the launcher's workers)."""
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                env = dict(kv.split("=", 1) for kv in (entry / "environ").read_text().split("\0") if "=" in kv)
                found[int(entry.name)] = env.get("RANK", "")
        except (OSError, ValueError, IndexError):
            pass
    return found


def start_endless(tmp, **env) -> tuple[subprocess.Popen, Path]:
    """`linnet train --nproc 2` for far more epochs than the test waits; returns once epoch 1 is saved."""
    run_dir = tmp / "runs" / "endless"
    write_idx_dataset(tmp / "data", n_train=437, n_test=90, size=10)
    proc = subprocess.Popen([sys.executable, "-m", "linnet", "train", "--nproc", "2", "--dataset", "fashion-mnist",
                             "--data-dir", str(tmp / "data"), "--batch-size", "64", "--epochs", "100000", "--no-plots", "--quiet",
                             "--runs-dir", str(tmp / "runs"), "--name", "endless"],
                            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=dict(os.environ, **env))
    deadline = time.monotonic() + 120
    # a row after the header: epoch 1 is complete (metrics.csv holds its header from epoch 0 on)
    while not ((run_dir / "metrics.csv").exists() and (run_dir / "metrics.csv").read_text().count("\n") >= 2):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    return proc, run_dir


@pytest.mark.parametrize("victim, sig", [("1", signal.SIGKILL), ("0", signal.SIGKILL),
                                         # a hung rank waits out the timeout and the launcher's grace: ~55 s
                                         pytest.param("1", signal.SIGSTOP, marks=pytest.mark.slow)])
def test_a_killed_or_hung_rank_stops_the_run_with_one_line(victim, sig, tmp_path):
    """SIGKILL: the connection closes, the others see it at once. SIGSTOP: a rank that hangs; the
    others give up after LINNET_DIST_TIMEOUT (20 s here: it also bounds the wait for rank 0 at the start)."""
    proc, run_dir = start_endless(tmp_path, LINNET_DIST_TIMEOUT="20")
    try:
        ranks = {rank: pid for pid, rank in children(proc.pid).items()}
        os.kill(ranks[victim], sig)
        start = time.monotonic()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - start < 60
    assert proc.returncode not in (0, None)
    # One line says why: rank 0's (it lost its peer) or the launcher's (a rank was killed). Should the
    # agent's SIGTERM reach rank 0 before the lost connection does, rank 0 first says where it stopped.
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("linnet train: error: ")]
    assert len(errors) == 1 and len(lines) <= 2 and "--resume" in errors[0], err
    assert out == ""
    done = len(history(run_dir))
    assert done >= 1
    result = experiment.resume(run_dir, epochs=1, quiet=True)   # the checkpoint loads and training goes on
    assert len(result.history) == done + 1


def test_ctrl_c_stops_every_rank(tmp_path):
    proc, run_dir = start_endless(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)   # what a terminal sends the whole foreground group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "training stopped" in err and "--resume" in err
    assert not children(proc.pid)
    assert len(history(run_dir)) >= 1


def test_contiguous_shares_cover_the_batch_unevenly():
    for n, world in [(10, 3), (7, 2), (1, 3), (0, 2)]:
        shares = [contiguous_share(n, r, world) for r in range(world)]
        assert [s.start for s in shares[1:]] == [s.stop for s in shares[:-1]]
        assert shares[0].start == 0 and shares[-1].stop == n
        sizes = [s.stop - s.start for s in shares]
        assert max(sizes) - min(sizes) <= 1


def test_outside_torchrun_there_is_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.from_env() is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    assert distributed.from_env() is None   # a world of one: the plain path, bit for bit


def test_timeout_setting(monkeypatch):
    monkeypatch.setenv("LINNET_DIST_TIMEOUT", "7.5")
    assert distributed.timeout_seconds() == 7.5
    monkeypatch.setenv("LINNET_DIST_TIMEOUT", "-1")
    with pytest.raises(ConfigError, match=r"LINNET_DIST_TIMEOUT .* must be a number of seconds > 0. Got '-1'"):
        distributed.timeout_seconds()


def test_nproc_flag_errors(capsys, tmp_path):
    assert main(["train", "--dataset", "digits", "--nproc", "0", "--runs-dir", str(tmp_path)]) == 2
    assert "The --nproc option must be an int >= 1. Got 0." in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", "--solver", "lbfgs", "--nproc", "2"]) == 2
    assert "--solver lbfgs solves the full batch in one process" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_without_nproc():
    assert without_nproc(["train", "--nproc", "2", "--epochs", "3", "--nproc=4"]) == ["train", "--epochs", "3"]


class Failure:
    def __init__(self, exitcode, timestamp, pid=11):
        self.exitcode, self.timestamp, self.pid = exitcode, timestamp, pid

    def signal_name(self):
        return signal.Signals(-self.exitcode).name


def test_the_launcher_names_a_killed_rank_once(capsys):
    assert _report({0: Failure(3, 2), 1: Failure(-9, 1)}) == 137
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["linnet train: error: rank 1 (pid 11) was killed by SIGKILL; every other rank was stopped. "
                   "The run directory keeps its last complete epoch: continue with --resume"]
    assert _report({0: Failure(2, 2), 1: Failure(-9, 1)}) == 2   # rank 0 said it already
    assert capsys.readouterr().err == ""
    assert _report({0: Failure(143, 2), 1: Failure(-9, 1)}) == 137   # rank 0 stopped by the agent: why?
    assert "rank 1 (pid 11) was killed by SIGKILL" in capsys.readouterr().err
