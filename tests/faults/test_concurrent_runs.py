"""Fault: two `linnet train` processes write the same run name at the same moment; a third process
tries to resume, or reads, a run while it is being trained.

Expected: exactly one of the two runs; the other refuses with one line and exit code 2 and touches
nothing; a `--resume` of a live run is refused (exit 2, names the live pid); the winner finishes
intact: its files agree with each other and its weights are those of an undisturbed run.
"""
from __future__ import annotations

import contextlib
import io
import json
import signal

import pytest
from fault_tools import (assert_one_line_error, assert_same_weights, cli, finish, load_checkpoint, metrics_epochs,
                         spawn, wait_until)
from helpers_train import no_plots, write_idx_dataset  # noqa: F401

from linnet.runs import LOCK

EPOCHS = 10


def settings(data, seed) -> list:
    # 600 single-image steps an epoch on generated 28x28 IDX files: ~0.1 s an epoch
    return ["--dataset", "fashion-mnist", "--data-dir", data, "--batch-size", 1, "--epochs", EPOCHS,
            "--seed", seed, "--quiet", "--device", "cpu"]


def in_process(argv) -> tuple[int, str, str]:
    """linnet.cli.main in this process, output captured (capsys is not available to a module fixture)."""
    from linnet.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def race(tmp_path_factory):
    """Two processes, seeds 1 and 2, started together on the same --name. The winner is paused
    (SIGSTOP: alive, lock held, deterministic whatever the machine's speed) while this process tries
    `--resume` on its run, then continued while this process runs `evaluate` on it. -> what happened."""
    root = tmp_path_factory.mktemp("race")
    data = root / "data"
    write_idx_dataset(data, n_train=600, n_test=100)
    runs = root / "runs"
    procs = {seed: spawn(["train", *settings(data, seed), "--runs-dir", runs, "--name", "same"]) for seed in (1, 2)}
    run_dir = runs / "same"
    try:
        # the loser exits as soon as it meets the winner's directory
        wait_until(lambda: any(p.poll() is not None for p in procs.values()), timeout=60, what="one run to exit")
        loser = next(seed for seed, p in procs.items() if p.poll() is not None)
        winner = 3 - loser
        lost = finish(procs[loser])
        wait_until(lambda: (run_dir / "checkpoint.safetensors").exists(), procs[winner], what="the first checkpoint")
        procs[winner].send_signal(signal.SIGSTOP)
        try:
            resumed = in_process(["train", "--resume", run_dir, "--epochs", 1, "--quiet"])
            alive = procs[winner].poll() is None
        finally:
            procs[winner].send_signal(signal.SIGCONT)
        evaluated = [in_process(["evaluate", run_dir]) for _ in range(3)]  # checkpoints replaced meanwhile
        won = finish(procs[winner], timeout=60)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.communicate()
    return {"data": data, "run_dir": run_dir, "winner": winner, "pid": procs[winner].pid, "lost": lost,
            "won": won, "resumed": resumed, "alive": alive, "evaluated": evaluated}


def test_a_resume_of_the_live_run_is_refused(race):
    assert race["alive"]
    rc, out, err = race["resumed"]
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", f"{race['run_dir']} is in use by another linnet process (pid {race['pid']})")


def test_evaluate_reads_the_live_run_consistently(race):
    for rc, out, err in race["evaluated"]:
        assert rc == 0 and err == "", err
        assert "test acc" in out


def test_the_second_run_refuses_and_the_first_is_intact(race, tmp_path, capsys, no_plots):
    rc, out, err = race["lost"]
    assert rc == 2 and out == ""
    run_dir = race["run_dir"]
    message = assert_one_line_error(err, "train", f"run directory {run_dir} ")
    # normally the winner holds the lock by then; in the instant between its mkdir and its lock,
    # the loser can only tell that the directory exists
    assert (f"is being written by another linnet process (pid {race['pid']}); pick another --name" in message
            or "already exists" in message), message
    rc, out, err = race["won"]
    assert rc == 0, err
    assert f"run directory: {run_dir}" in out and "Traceback" not in err
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["same"]  # no second directory
    # the winner's directory is complete and self-consistent, and holds the winner's settings
    config = json.loads((run_dir / "config.json").read_text())
    assert config["settings"]["seed"] == race["winner"]
    state, history, _ = load_checkpoint(run_dir)
    assert [r.epoch for r in history] == list(range(1, EPOCHS + 1)) == metrics_epochs(run_dir)
    assert json.loads((run_dir / "summary.json").read_text())["epochs"] == EPOCHS
    for name in ("report.html", "curves.png", "confusion.png", "weights.png", "predictions.png"):
        assert (run_dir / name).stat().st_size > 0, name
    assert not (run_dir / LOCK).exists()
    # and its weights are exactly those of the same run undisturbed
    rc, _, err = cli(["train", *settings(race["data"], race["winner"]), "--runs-dir", tmp_path, "--name", "alone"],
                     capsys)
    assert rc == 0, err
    assert_same_weights(state, load_checkpoint(tmp_path / "alone")[0])
