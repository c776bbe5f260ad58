import math
import re

import pytest
import torch
from helpers_train import tiny_split

from linnet.data.loader import Loader
from linnet.data.dataset import Split
from linnet.data.synthetic import synthetic_data
from linnet.models import build_model
from linnet.train import Callback, EpochRecord, TrainingDiverged, evaluate, fit, predict


def softmax_model(impl="fast", num_inputs=16, num_outputs=4, seed=0):
    return build_model("softmax", impl, num_inputs, num_outputs, generator=torch.Generator().manual_seed(seed))


def loaders(batch_size=8):
    return (Loader(tiny_split(64, seed=0), batch_size, shuffle=True, seed=0),
            Loader(tiny_split(32, seed=1), 16))


def test_fit_learns_a_separable_split_and_evaluate_agrees_with_the_history():
    train_iter, test_iter = loaders()
    model = softmax_model()
    history = fit(model, train_iter, test_iter, epochs=5, lr=0.5)
    assert [r.epoch for r in history] == [1, 2, 3, 4, 5]
    assert all(isinstance(r, EpochRecord) for r in history)
    assert history[-1].train_loss < history[0].train_loss
    assert history[-1].test_acc == 1.0
    test_loss, test_acc = evaluate(model, test_iter)
    assert test_acc == history[-1].test_acc
    assert test_loss == pytest.approx(history[-1].test_loss, rel=1e-6)


def test_history_records_hold_means_over_the_epoch():
    train_iter, test_iter = loaders()
    history = fit(softmax_model(), train_iter, test_iter, epochs=2, lr=0.1)
    for r in history:
        assert r.lr == 0.1
        assert 0.0 <= r.train_acc <= 1.0 and 0.0 <= r.test_acc <= 1.0
        assert math.isfinite(r.train_loss) and r.train_loss > 0
        assert r.seconds >= 0
        assert set(r.as_dict()) == {"epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"}
    # the first epoch's loss is measured before each step from W ~ N(0, 0.01^2): close to log(4)
    assert history[0].train_loss == pytest.approx(math.log(4), rel=0.2)


def test_predict_returns_class_indices():
    train_iter, test_iter = loaders()
    model = softmax_model()
    fit(model, train_iter, test_iter, epochs=3, lr=0.5)
    X, y = next(iter(Loader(tiny_split(32, seed=1), 32)))
    pred = predict(model, X)
    assert pred.shape == (32,) and pred.dtype == torch.int64
    assert torch.equal(pred, y)


def test_predict_linear_regression_returns_values():
    model = build_model("linear", "fast", 2, 1)
    model.load_state_dict({"w": torch.tensor([[2.0], [-3.4]]), "b": torch.tensor([4.2])})
    out = predict(model, torch.tensor([[1.0, 1.0], [0.0, 0.0]]))
    assert out.shape == (2, 1)
    assert torch.allclose(out, torch.tensor([[2.8], [4.2]]))


@pytest.mark.parametrize("schedule, gamma, step, expected", [
    ("constant", 0.5, 1, [0.2, 0.2, 0.2, 0.2]),
    ("exponential", 0.5, 1, [0.2, 0.1, 0.05, 0.025]),
    ("step", 0.5, 2, [0.2, 0.2, 0.1, 0.1]),
])
def test_lr_schedule_values_appear_in_the_records(schedule, gamma, step, expected):
    train_iter, test_iter = loaders()
    history = fit(softmax_model(), train_iter, test_iter, epochs=4, lr=0.2, lr_schedule=schedule,
                  lr_gamma=gamma, lr_step=step)
    assert [r.lr for r in history] == pytest.approx(expected)


def test_start_epoch_continues_the_count_and_the_schedule():
    train_iter, test_iter = loaders()
    first = fit(softmax_model(), train_iter, test_iter, epochs=2, lr=0.2, lr_schedule="exponential", lr_gamma=0.5)
    history = fit(softmax_model(), train_iter, test_iter, epochs=1, lr=0.2, lr_schedule="exponential",
                  lr_gamma=0.5, start_epoch=2, history=first)
    assert [r.epoch for r in history] == [1, 2, 3]
    assert history[2].lr == pytest.approx(0.05)
    assert history[:2] == first


def test_split_fit_equals_one_fit_bit_for_bit():
    train_iter, test_iter = loaders()
    straight = softmax_model()
    fit(straight, train_iter, test_iter, epochs=4, lr=0.3)
    resumed = softmax_model()
    h = fit(resumed, train_iter, test_iter, epochs=2, lr=0.3)
    fit(resumed, train_iter, test_iter, epochs=2, lr=0.3, start_epoch=2, history=h)
    for name, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_epoch_start(self, epoch, num_batches):
        self.events.append(("epoch_start", epoch, num_batches))

    def on_batch_end(self, step, loss):
        assert isinstance(loss, float) and loss > 0
        self.events.append(("batch_end", step))

    def on_epoch_end(self, record, model, history):
        assert history[-1] is record
        self.events.append(("epoch_end", record.epoch, len(history)))

    def on_fit_end(self, history, model):
        self.events.append(("fit_end", len(history)))


def test_callbacks_receive_every_hook_in_order():
    train_iter, test_iter = loaders(batch_size=16)   # 64 samples -> 4 batches an epoch
    cb = Recorder()
    fit(softmax_model(), train_iter, test_iter, epochs=2, lr=0.1, callbacks=[cb])
    expected = []
    for epoch in (1, 2):
        expected += [("epoch_start", epoch, 4)] + [("batch_end", s) for s in (1, 2, 3, 4)]
        expected += [("epoch_end", epoch, epoch)]
    expected += [("fit_end", 2)]
    assert cb.events == expected


def test_divergence_raises_naming_epoch_step_and_lr():
    X, y = synthetic_data(n=100, seed=0)
    train_iter = Loader(Split(X, y), 10, shuffle=True, seed=0)
    test_iter = Loader(Split(X, y), 100)
    model = build_model("linear", "fast", 2, 1)
    cb = Recorder()
    with pytest.raises(TrainingDiverged, match=r"at epoch \d+, step \d+ \(lr 10000\)") as info:
        fit(model, train_iter, test_iter, epochs=5, lr=1e4, callbacks=[cb])
    assert "smaller --lr" in str(info.value)
    # the step named is the one after the last that completed
    epoch, step = map(int, re.search(r"epoch (\d+), step (\d+)", str(info.value)).groups())
    completed = [e for e in cb.events if e[0] == "batch_end"]
    assert (epoch - 1) * len(train_iter) + step == len(completed) + 1
    # on_fit_end still comes, once and last, so callbacks can finish pending writes
    assert [e[0] for e in cb.events].count("fit_end") == 1 and cb.events[-1][0] == "fit_end"


class NaNAt:
    """Wraps a model; its loss becomes NaN at a given (epoch, step)."""

    def __init__(self, model, epoch, step, steps_per_epoch):
        self.model, self.kind, self.calls = model, model.kind, 0
        self.at = (epoch - 1) * steps_per_epoch + step

    def train_step(self, X, y, lr, weight_decay=0.0):
        self.calls += 1
        loss, correct = self.model.train_step(X, y, lr, weight_decay)
        return (float("nan") if self.calls == self.at else loss), correct

    def can_train_rows(self, images):
        return False   # every step through train_step above, not the fast model's kernel epoch

    def __getattr__(self, name):
        return getattr(self.model, name)


def test_nan_loss_stops_training_at_that_step():
    train_iter, test_iter = loaders(batch_size=16)
    model = NaNAt(softmax_model(), epoch=2, step=3, steps_per_epoch=4)
    cb = Recorder()
    with pytest.raises(TrainingDiverged, match=r"the loss became nan at epoch 2, step 3 \(lr 0\.25\)"):
        fit(model, train_iter, test_iter, epochs=3, lr=0.25, callbacks=[cb])
    assert model.calls == 7                         # nothing after the bad step
    assert ("epoch_end", 1, 1) in cb.events and ("epoch_end", 2, 2) not in cb.events
    assert cb.events[-2] == ("batch_end", 2) and cb.events[-1][0] == "fit_end"


def test_fit_accepts_a_plain_list_of_batches():
    train = list(Loader(tiny_split(64, seed=0), 8, shuffle=True, seed=0).epoch_batches(0))
    test = list(Loader(tiny_split(32, seed=1), 32).epoch_batches(0))
    model = softmax_model()
    cb = Recorder()
    history = fit(model, train, test, epochs=3, lr=0.5, callbacks=[cb])
    assert len(history) == 3 and history[-1].test_acc == 1.0
    assert cb.events[0] == ("epoch_start", 1, 8)     # len() of a list is the number of batches
    assert evaluate(model, test) == (history[-1].test_loss, history[-1].test_acc)


def test_fit_accepts_a_generator_without_len():
    train = list(Loader(tiny_split(64, seed=0), 8).epoch_batches(0))
    test = list(Loader(tiny_split(32, seed=1), 32).epoch_batches(0))
    cb = Recorder()
    history = fit(softmax_model(), (b for b in train), test, epochs=1, lr=0.5, callbacks=[cb])
    assert len(history) == 1
    assert cb.events[0] == ("epoch_start", 1, None)
    assert sum(e[0] == "batch_end" for e in cb.events) == 8


def test_weight_decay_shrinks_the_weights():
    train_iter, test_iter = loaders()
    plain, decayed = softmax_model(), softmax_model()
    fit(plain, train_iter, test_iter, epochs=3, lr=0.5)
    fit(decayed, train_iter, test_iter, epochs=3, lr=0.5, weight_decay=0.5)
    assert decayed.state_dict()["W"].norm() < plain.state_dict()["W"].norm()
