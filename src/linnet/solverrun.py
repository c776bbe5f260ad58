"""A run trained by a full-batch solver (`linnet train --solver lbfgs`) instead of the SGD loop.

One solve to the convex optimum, recorded as one epoch, so the run directory, the callbacks and the
report work as for SGD. The solve takes tens of seconds on 60k images: callbacks with an
`on_solver_step(iteration, loss)` (ConsoleProgress) show it moving. Without weight decay, a small
separable set is fitted exactly, which the run warns about.
"""
from __future__ import annotations

import sys
import time

import torch

from linnet.config import TrainConfig
from linnet.data.dataset import Dataset
from linnet.data.convert import to_float
from linnet.humanize import number
from linnet.train import EpochRecord, evaluate


def fit_lbfgs(cfg: TrainConfig, model, ds: Dataset, train_iter, test_iter, device, cbs, quiet: bool) -> list[EpochRecord]:
    """Full-batch L-BFGS to the convex optimum; recorded as one epoch. Callbacks with an
    `on_solver_step(iteration, loss)` (ConsoleProgress) see the solve move."""
    from linnet.solvers import TRAINING_LBFGS, lbfgs_softmax
    watchers = [cb.on_solver_step for cb in cbs if hasattr(cb, "on_solver_step")]
    start = time.perf_counter()
    X = to_float(ds.train.images, train_iter.resize) if ds.is_images else ds.train.images
    X = X.reshape(len(ds.train), -1).to(device)                                              # (n, d), whole split
    y = ds.train.labels.to(device)
    try:
        W, b = lbfgs_softmax(X, y, len(ds.classes), weight_decay=cfg.weight_decay, **TRAINING_LBFGS,
                             progress=(lambda i, loss: [w(i, loss) for w in watchers]) if watchers else None)
    finally:  # Ctrl-C mid-solve: the status line is cleared
        for cb in cbs:
            if hasattr(cb, "on_solver_step"):
                cb.on_fit_end([], model)
    model.load_state_dict({"W": W.to(torch.float32), "b": b.to(torch.float32)})
    train_loss, train_acc = evaluate(model, train_iter, device)
    test_loss, test_acc = evaluate(model, test_iter, device)
    record = EpochRecord(1, 1.0, train_loss, train_acc, test_loss, test_acc, time.perf_counter() - start)
    for cb in cbs:
        cb.on_epoch_end(record, model, [record])
        cb.on_fit_end([record], model)
    warning = overfit_warning(cfg, record, len(ds.train))
    if warning and not quiet:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    return [record]


def overfit_warning(cfg: TrainConfig, last: EpochRecord, n_train: int | None = None) -> str | None:
    """L-BFGS without weight decay on a separable (small) training set drives the training loss to ~0
    with ever larger weights: the test loss explodes (18 on 600 Fashion-MNIST images). Say so, and what helps."""
    if cfg.solver != "lbfgs" or cfg.weight_decay > 0 or not (last.train_loss < 0.01 and
                                                                   last.test_loss > max(0.1, 10 * last.train_loss)):
        return None
    samples = f"the {n_train} training samples" if n_train else "the training set"
    return (f"the training loss reached {number(last.train_loss)} with no weight decay, the test loss "
            f"{number(last.test_loss)}: the model fits {samples} exactly (overfitting); "
            "add --weight-decay (e.g. 1e-3) to regularise")
