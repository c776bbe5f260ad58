"""Fault: the loss becomes NaN or Inf.

Expected: training stops at that very step; the message names the epoch, the step and the lr and
gives a hint; the last good checkpoint (the last complete epoch) is kept and loads; exit code 1.

Note on the lr: softmax regression with linnet's stable cross-entropy does not overflow at lr 1e4
on digits (the gradient softmax(o) - onehot(y) is bounded, and the loss grows only linearly with
the weights): it takes lr >= ~2e35 (float32) to reach Inf/NaN. Linear regression diverges
exponentially once lr > 2 / (largest eigenvalue of X^T X / n): at lr 2.15 it overflows in epoch 2.
"""
from __future__ import annotations

import re

import pytest
import torch
from fault_tools import assert_one_line_error, assert_same_weights, cli, load_checkpoint, metrics_epochs, temp_files
from helpers_train import no_plots, read_json  # noqa: F401

from linnet.models import init_params
from linnet.runs import LOCK
from linnet.train import Callback, TrainingDiverged, fit

DIVERGED = re.compile(r"the loss became (nan|inf|-inf) at epoch (\d+), step (\d+) \(lr ([^)]+)\); training stopped "
                      r"there\. Try a smaller --lr .*")


def parse_divergence(message: str) -> tuple[int, int, str]:
    m = DIVERGED.fullmatch(message)
    assert m, message
    return int(m.group(2)), int(m.group(3)), m.group(4)


def assert_clean_run_dir(run_dir) -> None:
    """The lock was released and no temporary file was left."""
    assert not (run_dir / LOCK).exists()
    assert temp_files(run_dir) == []


def assert_finite(state: dict) -> None:
    for name, t in state.items():
        assert torch.isfinite(t).all(), name


@pytest.mark.parametrize("impl", ["fast", "scratch", "concise"])
def test_softmax_with_a_huge_lr_stops_at_the_step_and_keeps_the_initial_checkpoint(tmp_path, capsys, no_plots, impl):
    rc, out, err = cli(["train", "--dataset", "digits", "--impl", impl, "--lr", "1e38", "--epochs", 3, "--quiet",
                        "--device", "cpu", "--runs-dir", tmp_path, "--name", "boom"], capsys)
    assert rc == 1 and out == ""
    epoch, step, lr = parse_divergence(assert_one_line_error(err, "train"))
    assert (epoch, lr) == (1, "1e+38") and step >= 2  # the first step starts from small weights: finite
    run_dir = tmp_path / "boom"
    state, history, _ = load_checkpoint(run_dir)
    assert history == []  # no epoch completed: the checkpoint is the one written before training
    W0, b0 = init_params(64, 10, torch.Generator().manual_seed(0))
    assert_same_weights(state, {"W": W0, "b": b0})
    assert metrics_epochs(run_dir) == []
    assert_clean_run_dir(run_dir)


@pytest.mark.parametrize("impl", ["fast", "scratch", "concise"])
def test_linear_regression_diverging_in_epoch_2_keeps_epoch_1(tmp_path, capsys, no_plots, impl):
    """No fault injected: lr 2.15 really overflows the squared loss in the second epoch."""
    argv = ["train", "--model", "linear", "--impl", impl, "--lr", "2.15", "--quiet", "--device", "cpu",
            "--runs-dir", tmp_path]
    rc, out, err = cli(argv + ["--epochs", 5, "--name", "boom"], capsys)
    assert rc == 1 and out == ""
    epoch, step, lr = parse_divergence(assert_one_line_error(err, "train"))
    assert epoch == 2 and 1 <= step <= 100 and lr == "2.15"
    run_dir = tmp_path / "boom"
    state, history, _ = load_checkpoint(run_dir)
    assert [r.epoch for r in history] == [1] and metrics_epochs(run_dir) == [1]
    assert read_json(run_dir / "summary.json")["epochs"] == 1
    assert_finite(state)
    # the kept weights are exactly those of the end of epoch 1 (a 1-epoch run of the same settings)
    assert cli(argv + ["--epochs", 1, "--name", "one"], capsys)[0] == 0
    assert_same_weights(state, load_checkpoint(tmp_path / "one")[0])
    assert_clean_run_dir(run_dir)
    # resuming is exact: it diverges again at the very same step, and still keeps epoch 1
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 3, "--quiet"], capsys)
    assert rc == 1
    assert parse_divergence(assert_one_line_error(err, "train")) == (epoch, step, lr)
    assert_same_weights(load_checkpoint(run_dir)[0], state)


class BlowUpAfter(Callback):
    """Fault injection: at the end of epoch `epoch` (after the checkpoint), set the weights to +-3e38,
    as a run that has blown up; the next step's logits overflow. Remembers what was checkpointed."""

    def __init__(self, run_dir, epoch: int) -> None:
        self.run_dir, self.epoch, self.saved = run_dir, epoch, None

    def on_epoch_end(self, record, model, history) -> None:
        if record.epoch == self.epoch:
            self.saved = ((self.run_dir / "checkpoint.safetensors").read_bytes(), model.state_dict())
            W = model.state_dict()["W"]
            signs = torch.where(torch.arange(W.shape[1]) % 2 == 0, 1.0, -1.0)
            model.load_state_dict({"W": torch.full_like(W, 3e38) * signs, "b": model.state_dict()["b"]})


@pytest.mark.parametrize("impl", ["fast", "scratch", "concise"])
def test_divergence_mid_run_keeps_the_last_good_checkpoint_byte_for_byte(tmp_path, capsys, no_plots, monkeypatch,
                                                                         impl):
    import linnet.experiment as experiment
    run_dir = tmp_path / "blown"
    fault = BlowUpAfter(run_dir, epoch=2)
    real = experiment._callbacks
    monkeypatch.setattr(experiment, "_callbacks", lambda *a: real(*a) + [fault])
    rc, out, err = cli(["train", "--dataset", "digits", "--impl", impl, "--epochs", 5, "--lr", "0.1",
                        "--device", "cpu", "--runs-dir", tmp_path, "--name", "blown"], capsys)
    assert rc == 1
    assert parse_divergence(assert_one_line_error(err, "train")) == (3, 1, "0.1")
    assert [line.split()[1] for line in out.splitlines()] == ["1/5", "2/5"]  # nothing printed after the fault
    saved_bytes, saved_state = fault.saved
    assert (run_dir / "checkpoint.safetensors").read_bytes() == saved_bytes
    state, history, _ = load_checkpoint(run_dir)
    assert [r.epoch for r in history] == [1, 2] and metrics_epochs(run_dir) == [1, 2]
    assert_same_weights(state, saved_state)
    assert_finite(state)
    assert_clean_run_dir(run_dir)
    monkeypatch.setattr(experiment, "_callbacks", real)
    rc, _, err = cli(["train", "--resume", run_dir, "--epochs", 1, "--quiet"], capsys)  # the kept epoch resumes
    assert rc == 0, err
    assert [r.epoch for r in load_checkpoint(run_dir)[1]] == [1, 2, 3]


# ---------------------------------------------------------------------------- the chapter's naive softmax

class NaiveSoftmaxRegression:
    """Softmax regression as the chapter first writes it: exp(o) / sum exp(o), then -log(p[y]).

    Follows linnet.models.Model; counts its steps.
    """
    kind = "softmax"

    def __init__(self, num_inputs: int, num_outputs: int) -> None:
        W, b = init_params(num_inputs, num_outputs, torch.Generator().manual_seed(0))
        self.W, self.b = W.requires_grad_(True), b.requires_grad_(True)
        self.num_inputs, self.num_outputs, self.steps = num_inputs, num_outputs, 0

    def net(self, X):
        return X.reshape(len(X), -1) @ self.W + self.b                      # (B, d) @ (d, k) -> (B, k)

    def forward(self, X):
        with torch.no_grad():
            return self.net(X)

    def loss(self, X, y):
        from linnet.functional import softmax_naive
        with torch.no_grad():
            return -torch.log(softmax_naive(self.net(X))[torch.arange(len(y)), y])

    def train_step(self, X, y, lr, weight_decay=0.0):
        from linnet.functional import sgd, softmax_naive
        self.steps += 1
        O = self.net(X)
        P = softmax_naive(O)                                                 # inf / inf = nan for o > ~88
        l = -torch.log(P[torch.arange(len(y)), y])
        l.sum().backward()
        sgd([self.W, self.b], lr, len(y), weight_decay)
        return l.detach().sum().item(), int((O.argmax(1) == y).sum())

    def state_dict(self):
        return {"W": self.W.detach().clone(), "b": self.b.detach().clone()}

    def load_state_dict(self, state):
        with torch.no_grad():
            self.W.copy_(state["W"]), self.b.copy_(state["b"])


class Steps(Callback):
    def __init__(self):
        self.steps, self.ended = [], None

    def on_batch_end(self, step, loss):
        self.steps.append(step)

    def on_fit_end(self, history, model):
        self.ended = list(history)


def large_logit_batches():
    """Three ordinary batches, then one whose pixels are scaled up: logits in the thousands."""
    g = torch.Generator().manual_seed(1)
    batches = [(torch.rand(8, 64, generator=g), torch.arange(8) % 10) for _ in range(3)]
    big = torch.rand(8, 64, generator=g) * 1e5
    return batches + [(big, torch.arange(8) % 10)] + batches


def test_the_naive_softmax_on_large_logits_stops_at_that_step():
    model, seen = NaiveSoftmaxRegression(64, 10), Steps()
    batches = large_logit_batches()
    with torch.no_grad():
        assert not torch.isfinite(torch.exp(model.net(batches[3][0]))).all()  # the fault: exp overflows
    with pytest.raises(TrainingDiverged, match=r"^the loss became nan at epoch 1, step 4 \(lr 0\.1\); training "
                                               r"stopped there\. Try a smaller --lr"):
        fit(model, batches, batches[:1], epochs=2, lr=0.1, callbacks=[seen])
    assert model.steps == 4 and seen.steps == [1, 2, 3]  # no step after the bad one
    assert seen.ended == []  # on_fit_end still ran (callbacks finish their work), with no complete epoch


def test_the_stable_softmax_trains_through_the_same_batches():
    """The control: linnet's scratch model (stable LogSumExp cross-entropy) stays finite there."""
    from linnet.models import build_model
    model = build_model("softmax", "scratch", 64, 10, generator=torch.Generator().manual_seed(0))
    batches = large_logit_batches()
    history = fit(model, batches, batches[:1], epochs=2, lr=0.1)
    assert len(history) == 2 and all(torch.isfinite(torch.tensor(r.train_loss)) for r in history)
