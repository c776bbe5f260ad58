"""The book's training helpers: Timer, accuracy, evaluate_accuracy, train_epoch_ch3, train_ch3, predict_ch3.

They keep the book's contract, for any `net` (a plain function or an nn.Module), `loss` (one value
per sample, or a batch mean as nn losses give by default) and `updater` (a torch.optim.Optimizer, or
the book's function of the batch size such as `lambda batch_size: d2l.sgd([W, b], lr, batch_size)`),
counting with linnet's metrics. Where the book's code would go on silently, they stop with a
linnet error: a NaN loss stops training at that step; train_ch3 has no asserts on the accuracy
(the book's own build checks), so any data trains.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from linnet import metrics, plots
from linnet.checks import check_int
from linnet.d2l.loaders import get_fashion_mnist_labels
from linnet.d2l.plotting import Animator
from linnet.errors import ConfigError, LinnetError, TrainingDiverged
from linnet.liveview import LiveFigure


class Timer:
    """Records running times: start(), stop() -> seconds of this run; avg(), sum(), cumsum() over all runs."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        self.tik = time.perf_counter()

    def stop(self) -> float:
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def avg(self) -> float:
        if not self.times:
            raise LinnetError("Timer.avg: no time recorded yet; call stop() first")
        return sum(self.times) / len(self.times)

    def sum(self) -> float:
        return sum(self.times)

    def cumsum(self) -> list[float]:
        return np.array(self.times).cumsum().tolist()


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Number of correct predictions, as a float (the book's); y_hat: logits or probabilities (B, k), or labels."""
    return float(metrics.accuracy(y_hat, y))


def _check_callable(name: str, value) -> None:
    if not callable(value):
        hint = " (for a linnet model, pass its forward method)" if hasattr(value, "forward") else ""
        raise ConfigError(f"The '{name}' parameter must be callable{hint}. Got {type(value).__name__}.")


def evaluate_accuracy(net, data_iter) -> float:
    """Accuracy of `net` (any callable; an nn.Module is put in eval mode) over the batches of `data_iter`."""
    _check_callable("net", net)
    if isinstance(net, torch.nn.Module):
        net.eval()
    metric = metrics.Accumulator(2)  # correct, count
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    if metric[1] == 0:
        raise ConfigError("The 'data_iter' parameter yielded no batches.")
    return metric[0] / metric[1]


def _summed(l: torch.Tensor, loss, batch: int) -> torch.Tensor:
    """The batch's summed loss, whatever the loss returns: one value per sample, or one reduced value
    (nn losses' default 'mean'; 'sum' read from the loss's `reduction`)."""
    if l.dim() > 0:
        return l.sum()
    return l if getattr(loss, "reduction", "mean") == "sum" else l * batch


def train_epoch_ch3(net, train_iter, loss, updater) -> tuple[float, float]:
    """One epoch; returns (mean training loss, training accuracy), as the book's.

    With an Optimizer the step follows the mean loss; with a function, the summed loss, and the
    function is called with the batch size (the book's d2l.sgd divides by it).
    """
    for name, value in (("net", net), ("loss", loss)):
        _check_callable(name, value)
    is_optimizer = isinstance(updater, torch.optim.Optimizer)
    if not is_optimizer and not callable(updater):
        raise ConfigError("The 'updater' parameter must be a torch.optim.Optimizer or a function of the batch "
                          f"size (e.g. lambda batch_size: d2l.sgd([W, b], lr, batch_size)). Got {type(updater).__name__}.")
    if isinstance(net, torch.nn.Module):
        net.train()
    metric = metrics.Accumulator(3)  # loss sum, correct, count
    for step, (X, y) in enumerate(train_iter, start=1):
        y_hat = net(X)                                    # (B, k) logits or probabilities, or (B, 1)
        batch = len(y)
        l_sum = _summed(loss(y_hat, y), loss, batch)      # () summed over the batch
        value = float(l_sum.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(f"the loss became {value} at step {step} of the epoch; training stopped "
                                   "there. Try a smaller learning rate.")
        if is_optimizer:
            updater.zero_grad()
            (l_sum / batch).backward()                    # the batch mean, as the book's l.mean().backward()
            updater.step()
        else:
            l_sum.backward()                              # the sum: the updater divides by the batch size
            updater(X.shape[0])
        metric.add(value, accuracy(y_hat, y), y.numel())
    if metric[2] == 0:
        raise ConfigError("The 'train_iter' parameter yielded no batches.")
    return metric[0] / metric[2], metric[1] / metric[2]


def train_ch3(net, train_iter, test_iter, loss, num_epochs: int, updater) -> None:
    """`num_epochs` epochs of train_epoch_ch3, each followed by the test accuracy, drawn by an Animator."""
    check_int("num_epochs", num_epochs, 1)
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0.3, 0.9],
                        legend=["train loss", "train acc", "test acc"])
    for epoch in range(num_epochs):
        train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
        animator.add(epoch + 1, train_metrics + (test_acc,))
    animator.flush()


def predict_ch3(net, test_iter, n: int = 6) -> None:
    """The first `n` images of the test set titled 'true / predicted' (linnet marks wrong ones in red).

    Shown like the Animator: in place in Jupyter; elsewhere ./predictions.png and one line of labels.
    """
    check_int("n", n, 1)
    for X, y in test_iter:
        break
    else:
        raise ConfigError("The 'test_iter' parameter yielded no batches.")
    with torch.no_grad():
        predicted = net(X).argmax(axis=1)
    trues, preds = get_fashion_mnist_labels(y[:n]), get_fashion_mnist_labels(predicted[:n])
    fig = plots.plot_predictions(X[:n], trues, preds, num_cols=min(n, len(trues)))
    line = "predict_ch3 (true -> predicted): " + ", ".join(f"{t} -> {p}" for t, p in zip(trues, preds))
    LiveFigure("predict_ch3", "predictions").show(fig, line)
