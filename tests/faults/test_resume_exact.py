"""Fault: a run is cut short (stopped after some epochs, Ctrl-C or SIGTERM mid-epoch) and resumed.

Expected: with the same seed, the resumed run ends with weights bit-identical to an uninterrupted
run, and with the same metrics history (all but the wall-clock seconds).
"""
from __future__ import annotations

import dataclasses
import os
import signal

import pytest
from fault_tools import assert_same_weights, cli, load_checkpoint, metrics_epochs
from helpers_train import no_plots  # noqa: F401

from linnet.train import Callback

EPOCHS = 4


def settings(impl: str, extra=()) -> list:
    return ["--dataset", "digits", "--impl", impl, "--quiet", "--device", "cpu", *extra]


def train(capsys, tmp_path, name, impl, extra, epochs, expect=0):
    rc, _, err = cli(["train", *settings(impl, extra), "--epochs", epochs, "--runs-dir", tmp_path, "--name", name],
                     capsys)
    assert rc == expect, err
    return err


def resume(capsys, run_dir, epochs):
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", epochs, "--quiet"], capsys)
    assert rc == 0, err


def without_seconds(history):
    return [dataclasses.replace(r, seconds=0.0) for r in history]


def assert_same_run(run_dir, straight_dir) -> None:
    state, history, _ = load_checkpoint(run_dir)
    ref_state, ref_history, _ = load_checkpoint(straight_dir)
    assert_same_weights(state, ref_state)
    assert without_seconds(history) == without_seconds(ref_history)
    assert metrics_epochs(run_dir) == list(range(1, EPOCHS + 1))


class SignalAt(Callback):
    """Fault injection: send this process a real signal at (epoch, step), once."""

    def __init__(self, sig, epoch: int, step: int) -> None:
        self.sig, self.epoch, self.step, self.current, self.sent = sig, epoch, step, 0, False

    def on_epoch_start(self, epoch, num_batches):
        self.current = epoch

    def on_batch_end(self, step, loss):
        if not self.sent and (self.current, step) == (self.epoch, self.step):
            self.sent = True
            os.kill(os.getpid(), self.sig)


CASES = [("fast", ()), ("scratch", ()), ("concise", ()),
         ("fast", ("--lr-decay", "0.7", "--weight-decay", "0.001", "--batch-size", "7"))]
IDS = ["fast", "scratch", "concise", "fast-decay"]


@pytest.fixture(params=CASES, ids=IDS)
def straight(request, tmp_path, capsys, no_plots):
    """(impl, extra flags, the run directory of an uninterrupted EPOCHS-epoch run)."""
    impl, extra = request.param
    train(capsys, tmp_path, "straight", impl, extra, EPOCHS)
    return impl, extra, tmp_path / "straight"


def test_stopped_after_two_epochs_then_resumed(straight, tmp_path, capsys):
    impl, extra, straight_dir = straight
    train(capsys, tmp_path, "halves", impl, extra, 2)
    resume(capsys, tmp_path / "halves", EPOCHS - 2)
    assert_same_run(tmp_path / "halves", straight_dir)


@pytest.mark.parametrize("sig,code,epoch,step", [(signal.SIGINT, 130, 2, 10), (signal.SIGTERM, 143, 3, 1)],
                         ids=["sigint", "sigterm"])
def test_signalled_mid_epoch_then_resumed(straight, tmp_path, capsys, monkeypatch, sig, code, epoch, step):
    import linnet.experiment as experiment
    impl, extra, straight_dir = straight
    fault = SignalAt(sig, epoch, step)
    real = experiment._callbacks
    monkeypatch.setattr(experiment, "_callbacks", lambda *a: real(*a) + [fault])
    err = train(capsys, tmp_path, "cut", impl, extra, EPOCHS, expect=code)
    assert fault.sent and f"training stopped after epoch {epoch - 1} of {EPOCHS}" in err
    run_dir = tmp_path / "cut"
    assert metrics_epochs(run_dir) == list(range(1, epoch))
    resume(capsys, run_dir, EPOCHS - (epoch - 1))
    assert_same_run(run_dir, straight_dir)


def test_resumed_twice_in_one_epoch_steps(straight, tmp_path, capsys):
    """1 + 1 + 2 epochs, each a separate process-like call, still the same run."""
    impl, extra, straight_dir = straight
    train(capsys, tmp_path, "steps", impl, extra, 1)
    resume(capsys, tmp_path / "steps", 1)
    resume(capsys, tmp_path / "steps", 2)
    assert_same_run(tmp_path / "steps", straight_dir)
