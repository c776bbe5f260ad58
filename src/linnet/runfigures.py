"""A run's final figures: which files a run gets, each drawn and written after training.

`final_figures` says what a run draws (file name -> a function making the Figure); `draw_final_figures`
draws and writes them. linnet.experiment calls it once the result line is printed; the figure
benchmark (benchmarks/bench_figures.py) times the same list, figure by figure.

Nothing here runs while the model trains, so the figures are drawn with Python's cyclic garbage
collector paused (`linnet.collector.gc_paused`): importing matplotlib and drawing four figures make some 10^5
objects, enough to set off full collections, each of which walks every object torch and the run
have made (~0.1 s each here, two in every run measured, for nothing: the phase frees little).
And where a second CPU is there, a forked child draws half of the figures meanwhile (matplotlib holds
the GIL, so threads would not draw at once): the CPU the training loop needed is free by then.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from linnet.data.dataset import Split
from linnet.data.loader import Loader
from linnet.collector import gc_paused
from linnet.rundata import loaders_for


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
    true, predicted = ds.text_labels(labels[pick]), ds.text_labels(preds[pick])
    return figures + [
        ("predictions.png", lambda: plot_predictions(X, true, predicted, title=title("Predictions on test images"))),
        confusion,
        ("weights.png", lambda: plot_weights(model.state_dict()["W"], tuple(X.shape[-2:]), ds.classes,
                                             title("Weights per class")))]


def figure_processes() -> int:
    """2 where a second process can draw half of the figures at once: on Linux (macOS forbids much
    after a fork, its system libraries not being fork-safe; Windows has no fork), where this process
    may use two CPUs, and outside a Jupyter kernel (whose threads and sockets are no place for a
    fork); else 1."""
    from linnet.liveview import in_notebook
    if not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2:
        return 1
    return 1 if in_notebook() else 2


def draw_final_figures(cfg, run_path: Path, model, ds, history, preds, matrix,
                       seconds: dict[str, float] | None = None, processes: int | None = None) -> list[Path]:
    """Draw and write (atomically) a run's final figures; returns their paths. `seconds`, when given,
    receives each file's drawing time and "import" (matplotlib and linnet's plotting modules).

    `processes` (default figure_processes()): with 2, a forked child draws the figures between the
    first and the last (an image run's predictions and confusion matrix, half of the drawing, a
    table's confusion matrix; figures that convert tensors but compute nothing with torch) while
    this process draws the others; training is over, so the two take nothing from it. Whatever the
    child did not write (it failed, or was stopped) is drawn here after it, so an error shows as if
    drawn in one process."""
    clock = time.perf_counter()
    with gc_paused():
        from linnet.plots import save_figure  # noqa: F401 (imported before the fork: the child has it too)
        if seconds is not None:
            seconds["import"] = time.perf_counter() - clock
        figures = final_figures(cfg, run_path.name, model, ds, history, preds, matrix)
        inner = figures[1:-1] if (processes or figure_processes()) > 1 else []
        child = _fork_drawing(inner, run_path) if inner else None
        try:
            times = _draw([f for f in figures if f not in inner] if child else figures, run_path)
        finally:
            child_times = _reap(*child) if child else {}
        if child and child_times is None:   # the child failed: its figures are drawn (or fail) here
            child_times = _draw(inner, run_path)
        if seconds is not None:
            seconds.update(times, **child_times)
        return [run_path / name for name, _ in figures]   # made while paused: a collection comes later, if ever


def _draw(figures, run_path: Path) -> dict[str, float]:
    """Draw and write `figures`; returns each one's seconds."""
    from linnet.plots import save_figure
    times = {}
    for name, make in figures:
        start = time.perf_counter()
        save_figure(make(), run_path / name)
        times[name] = time.perf_counter() - start
    return times


def _fork_drawing(figures, run_path: Path) -> tuple[int, int]:
    """A child process drawing `figures`: (its pid, the read end of a pipe that brings its seconds).

    The child only draws (matplotlib, numpy: no torch computation, whose thread pool a fork does not
    carry) and leaves by os._exit, whatever happens: never back into the caller's code, no atexit
    handlers, no flushing of buffers it shares with this process."""
    read, write = os.pipe()
    with warnings.catch_warnings():   # Python 3.12+ warns of forking a process with threads (torch's pool)
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read)
            os.write(write, json.dumps(_draw(figures, run_path)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _reap(pid: int, read: int) -> dict[str, float] | None:
    """Wait for the drawing child; its seconds, or None when it failed. Reaped even when this wait is
    interrupted (Ctrl-C reaches the child too, which then leaves at once)."""
    try:
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()   # until the child exits
    finally:
        _, status = os.waitpid(pid, 0)
    return json.loads(data) if os.waitstatus_to_exitcode(status) == 0 else None
