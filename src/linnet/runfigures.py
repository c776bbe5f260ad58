"""A run's final figures: which files a run gets, each drawn and written after training.

`final_figures` says what a run draws (file name -> a function making the Figure); `draw_final_figures`
draws and writes them. linnet.experiment calls it once the result line is printed; the figure
benchmark (benchmarks/bench_figures.py) times the same list, figure by figure.

Nothing here runs while the model trains, so the figures are drawn with Python's cyclic garbage
collector paused (`gc_paused`): importing matplotlib and drawing four figures make some 10^5
objects, enough to set off full collections, each of which walks every object torch and the run
have made (~0.1 s each here, two in every run measured, for nothing: the phase frees little).
"""
from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from linnet.data.dataset import Split
from linnet.data.loader import Loader
from linnet.rundata import loaders_for


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic collector off for the block, and back as it was after (reference counting still
    frees what is not in a cycle; what is, such as a drawn figure, waits for the next collection)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def final_figures(cfg, run_name: str, model, ds, history, preds, matrix) -> list[tuple[str, Callable]]:
    """(file name, function returning its Figure) for a run, in drawing order, each titled with what
    it shows, the run and the dataset: the curves; the scatter for the synthetic linear regression,
    else predictions (a class-balanced sample of the test set), confusion matrix and weights (for a
    table: each class's largest, by feature name)."""
    from linnet.plots import (plot_confusion, plot_curves, plot_predictions, plot_scatter, plot_weights, run_title,
                              sample_per_class)
    from linnet.tableplots import plot_top_weights

    def title(what: str) -> str:
        return run_title(what, run_name, ds.name)

    figures = [("curves.png", lambda: plot_curves(history, title("Training curves")))]
    if model.kind == "linear" and cfg.data is None:  # the chapter's synthetic data
        return figures + [("scatter.png", lambda: plot_scatter(ds.train.images, ds.train.labels,
                                                               title=title("Synthetic data")))]
    confusion = ("confusion.png", lambda: plot_confusion(matrix, ds.classes, title("Confusion matrix, test set")))
    if not ds.is_images:  # a table's weights are no image, and its rows no pictures to show
        W = model.state_dict()["W" if matrix is not None else "w"]
        weights = ("weights.png", lambda: plot_top_weights(W, ds.features, ds.classes or ["target"],
                                                           title=title("Largest weights")))
        return figures + ([confusion] if matrix is not None else []) + [weights]
    labels = ds.test.labels
    pick = torch.tensor(sample_per_class(labels, min(18, len(labels))), dtype=torch.long)   # (n,) test indices
    sample = Split(ds.test.images[pick], labels[pick])
    X, _ = next(iter(Loader(sample, len(pick), resize=loaders_for(cfg, ds)[1].resize)))     # in order: not shuffled
    return figures + [
        ("predictions.png", lambda: plot_predictions(X, ds.text_labels(labels[pick]), ds.text_labels(preds[pick]),
                                                     title=title("Predictions on test images"))),
        confusion,
        ("weights.png", lambda: plot_weights(model.state_dict()["W"], tuple(X.shape[-2:]), ds.classes,
                                             title("Weights per class")))]


def draw_final_figures(cfg, run_path: Path, model, ds, history, preds, matrix,
                       seconds: dict[str, float] | None = None) -> list[Path]:
    """Draw and write (atomically) a run's final figures; returns their paths. `seconds`, when given,
    receives each file's drawing time and "import" (matplotlib and linnet's plotting modules)."""
    clock = time.perf_counter()
    with gc_paused():
        from linnet.plots import save_figure
        if seconds is not None:
            seconds["import"] = time.perf_counter() - clock
        written = []
        for name, make in final_figures(cfg, run_path.name, model, ds, history, preds, matrix):
            start = time.perf_counter()
            save_figure(make(), run_path / name)
            written.append(run_path / name)
            if seconds is not None:
                seconds[name] = time.perf_counter() - start
    return written
