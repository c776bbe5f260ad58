"""The training loop: epochs x minibatches -> SGD steps, metrics, per-epoch test evaluation.

The loop knows nothing of plots, files or notebooks. Callbacks receive each epoch's record and act
on it (progress bar, live plot, checkpoint). A non-finite loss stops training at that very step.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import torch

from linnet import threads
from linnet.errors import TrainingDiverged
from linnet.metrics import Accumulator
from linnet.schedules import learning_rate
from linnet.functional import cross_entropy


@dataclass(frozen=True)
class EpochRecord:
    """One row of metrics.csv. Accuracies are None for linear regression."""
    epoch: int            # 1-based, counted over the whole run (a resumed run continues the count)
    lr: float
    train_loss: float     # mean per-sample loss over the epoch, measured before each step
    train_acc: float | None
    test_loss: float
    test_acc: float | None
    seconds: float        # wall time of the epoch's training steps and test evaluation

    def as_dict(self) -> dict:
        return asdict(self)


class Callback:
    """Hooks the loop calls; override what you need."""

    def on_epoch_start(self, epoch: int, num_batches: int | None) -> None: ...
    def on_batch_end(self, step: int, loss: float) -> None: ...
    def on_epoch_end(self, record: EpochRecord, model, history: Sequence[EpochRecord]) -> None: ...
    def on_fit_end(self, history: Sequence[EpochRecord], model) -> None:
        """Called once when fit stops, finished or not (divergence, Ctrl-C)."""


def _batches(loader, epoch: int, model=None) -> Iterable:
    """A linnet Loader yields epoch `epoch`'s batches exactly (resume depends on it); any iterable works.

    Models that take raw uint8 images (linnet.models.fast) get them unconverted: one pass less per batch.
    """
    if not hasattr(loader, "epoch_batches"):
        return loader
    return loader.epoch_batches(epoch, raw=getattr(model, "accepts_uint8", False))


def _takes_rows(model, loader, device=None) -> bool:
    """Whether `model` can walk `loader`'s resident images itself (linnet.models.fast's compiled kernel)."""
    on_cpu = device is None or torch.device(device).type == "cpu"
    return (on_cpu and hasattr(loader, "epoch_order") and loader.resize is None
            and getattr(model, "can_train_rows", lambda _: False)(loader.split.images))


def _paced(model, batches: Iterable, device, training: bool) -> Iterable:
    """On the CPU, torch's thread count for these steps chosen by linnet.threads (measured or --threads)."""
    if device is not None and torch.device(device).type != "cpu":
        return batches
    return threads.paced(model, batches, training)


def _epoch_steps(model, loader, epoch: int, lr: float, weight_decay: float, device=None) -> Iterable:
    """(summed loss, correct, batch size) of each SGD step of epoch `epoch`, measured before the step.

    A linnet Loader's resident uint8 images go whole to a model that can walk them itself
    (linnet.models.fast's compiled kernel: no batch is copied out); otherwise one train_step a batch.
    """
    if _takes_rows(model, loader, device):
        yield from model.train_rows(loader.split.images, loader.split.labels, loader.epoch_order(epoch),
                                    loader.batch_size, lr, weight_decay)
        return
    for X, y in _paced(model, _batches(loader, epoch, model), device, training=True):
        if device is not None:
            X, y = X.to(device), y.to(device)
        loss_sum, correct = model.train_step(X, y, lr, weight_decay)
        yield loss_sum, correct, len(y)


def evaluate(model, loader, device=None) -> tuple[float, float | None]:
    """(mean per-sample loss, accuracy or None for regression) over a loader."""
    whole = not getattr(loader, "drop_last", False)       # else only its batches say which rows count
    if whole and hasattr(model, "evaluate_rows") and _takes_rows(model, loader, device):
        loss_sum, correct = model.evaluate_rows(loader.split.images, loader.split.labels)  # the kernel, one call
        return loss_sum / len(loader.split), correct / len(loader.split)
    metric = Accumulator(3)  # loss sum, correct, count
    classify = model.kind == "softmax"
    for X, y in _paced(model, _batches(loader, 0, model), device, training=False):
        if device is not None:
            X, y = X.to(device), y.to(device)
        if classify:  # one forward pass gives both the loss and the predictions
            O = model.forward(X)                                            # (B, k) logits
            metric.add(cross_entropy(O, y).sum(), (O.argmax(1) == y).sum(), len(y))
        else:
            metric.add(model.loss(X, y).sum(), 0, len(y))
    return metric[0] / metric[2], (metric[1] / metric[2] if classify else None)


def predict(model, X: torch.Tensor) -> torch.Tensor:
    """Class indices (B,) for softmax regression, predictions (B, 1) for linear regression."""
    out = model.forward(X)
    return out.argmax(dim=1) if model.kind == "softmax" else out


def predict_all(model, loader, device=None) -> torch.Tensor:
    """`predict` over every batch of a loader, in order, concatenated on the CPU."""
    return torch.cat([predict(model, X if device is None else X.to(device)).cpu()
                      for X, _ in _batches(loader, 0, model)])


def fit(model, train_iter, test_iter, epochs: int, lr: float = 0.1, *, lr_schedule: str = "constant",
        lr_gamma: float = 0.9, lr_step: int = 1, weight_decay: float = 0.0, start_epoch: int = 0,
        history: Sequence[EpochRecord] = (), callbacks: Sequence[Callback] = (), device=None,
        lr_start: int = 0, parallel=None) -> list[EpochRecord]:
    """Train `epochs` more epochs after `start_epoch` completed ones; returns the whole history.

    Epoch e (0-based) uses lr = learning_rate(lr_schedule, lr, e - lr_start, lr_gamma, lr_step) and,
    with a linnet Loader, the batches of epoch e: so 5 epochs then 5 more equal 10 at once, bit for
    bit. `lr_start`: the epoch the schedule starts from (a resume that changed the lr, linnet.plan).
    `parallel` (a linnet.distributed.DataParallel): this process steps on its share of each batch and
    evaluates its share of the test set; the records are those of the whole data, on every rank.
    """
    history = list(history)
    classify = model.kind == "softmax"
    try:
        for epoch in range(start_epoch, start_epoch + epochs):
            epoch_lr = learning_rate(lr_schedule, lr, epoch - lr_start, lr_gamma, lr_step)
            num_batches = len(train_iter) if hasattr(train_iter, "__len__") else None
            for cb in callbacks:
                cb.on_epoch_start(epoch + 1, num_batches)
            start = time.perf_counter()
            metric = Accumulator(3)  # loss sum, correct, count
            steps = (_epoch_steps(model, train_iter, epoch, epoch_lr, weight_decay, device) if parallel is None
                     else parallel.epoch_steps(model, train_iter, epoch, epoch_lr, weight_decay, device))
            for step, (loss_sum, correct, size) in enumerate(steps, start=1):
                if not math.isfinite(loss_sum):
                    raise TrainingDiverged(
                        f"the loss became {loss_sum} at epoch {epoch + 1}, step {step} (lr {epoch_lr:g}); "
                        f"training stopped there. Try a smaller --lr (e.g. {epoch_lr / 10:g}) or an --lr-decay.")
                metric.add(loss_sum, correct, size)
                for cb in callbacks:
                    cb.on_batch_end(step, loss_sum / size)
            test_loss, test_acc = (evaluate if parallel is None else parallel.evaluate)(model, test_iter, device)
            record = EpochRecord(epoch + 1, epoch_lr, metric[0] / metric[2],
                                 metric[1] / metric[2] if classify else None, test_loss, test_acc,
                                 time.perf_counter() - start)
            history.append(record)
            for cb in callbacks:
                cb.on_epoch_end(record, model, history)
    finally:  # also on divergence or Ctrl-C: callbacks finish their work (pending writes)
        for cb in callbacks:
            cb.on_fit_end(history, model)
    return history
