"""Callbacks for the training loop: console progress, the run directory, a live plot.

Each receives the per-epoch record and acts on it; the loop itself stays free of I/O.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence

from linnet.humanize import number, seconds
from linnet.liveview import LiveFigure, in_notebook  # noqa: F401 (in_notebook: experiment imports it from here)
from linnet.train import Callback, EpochRecord


def format_record(r: EpochRecord, total: int | None = None, solver: str | None = None) -> str:
    """One epoch as a line: "epoch 3/10  train loss ..." ("epoch 3  ..." when the total is unknown);
    a full-batch solve (`solver`, e.g. "L-BFGS") has no epochs and no lr: "L-BFGS  train loss ..."."""
    width = len(str(total))
    epoch = f"{r.epoch:>{width}}/{total}" if total is not None else str(r.epoch)
    line = f"{solver or 'epoch ' + epoch}  train loss {number(r.train_loss)}"
    if r.train_acc is not None:
        line += f"  train acc {r.train_acc:.3f}  test acc {r.test_acc:.3f}"
    else:
        line += f"  test loss {number(r.test_loss)}"
    return line + ("" if solver else f"  lr {r.lr:.4g}") + f"  {seconds(r.seconds)}"


class ConsoleProgress(Callback):
    """A tqdm bar over each epoch's minibatches (only on a terminal) and one printed line per epoch."""

    status_interval = 0.5   # seconds between two redrawings of the solver's status line

    def __init__(self, total_epochs: int, out=None, err=None) -> None:
        self.total, self.out, self.err, self.bar = total_epochs, out or sys.stdout, err, None
        self.solve_start, self.last_status, self.status_width = None, float("-inf"), 0
        self.drawing = False   # a bar may be on the terminal's current line (set before tqdm draws it)

    def on_solver_step(self, iteration: int, loss: float) -> None:
        """A full-batch solver's progress (linnet.solvers.lbfgs_softmax): on a terminal, one status line
        "L-BFGS  iteration 37  loss 0.2841  3.21 s", redrawn at most every status_interval seconds."""
        now = time.monotonic()
        if self.solve_start is None:
            self.solve_start = now
        err = self.err or sys.stderr
        if now - self.last_status < self.status_interval or not getattr(err, "isatty", lambda: False)():
            return
        self.last_status = now
        text = f"L-BFGS  iteration {iteration}  loss {number(loss)}  {seconds(now - self.solve_start)}"
        err.write("\r" + text.ljust(self.status_width))
        err.flush()
        self.status_width = len(text)

    def _clear_status(self) -> None:
        if self.status_width:  # the line ends clean: the next print starts at its column 0
            err = self.err or sys.stderr
            err.write("\r" + " " * self.status_width + "\r")
            err.flush()
            self.status_width = 0

    def on_epoch_start(self, epoch: int, num_batches: int | None) -> None:
        from linnet.progress import progress_bar   # the widget in Jupyter (never its missing-ipywidgets warning)
        self.drawing = True
        self.bar = progress_bar(num_batches, f"epoch {epoch}", unit="batch", file=self.err)

    def on_batch_end(self, step: int, loss: float) -> None:
        if self.bar is not None and not self.bar.disable:
            self.bar.update(1)
            if step % 20 == 0:
                self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def on_epoch_end(self, record, model, history) -> None:
        if self.bar is not None:
            self.bar.close()
        self._clear_status()
        solver = "L-BFGS" if self.solve_start is not None else None   # the record of a solve, not an epoch
        print(format_record(record, self.total, solver), file=self.out, flush=True)

    def on_fit_end(self, history, model) -> None:
        if self.bar is not None:
            self.bar.close()  # after an error mid-epoch, the bar must not linger on the terminal
        self._clear_status()
        err = self.err or sys.stderr
        if self.drawing and getattr(err, "isatty", lambda: False)():
            # Ctrl-C can land inside tqdm (while it draws, before `self.bar` is even set): whatever is
            # on the line, erase it (carriage return, clear to its end) so the next message starts clean
            err.write("\r\x1b[K")
            err.flush()
        self.drawing = False


class RunRecorder(Callback):
    """After every epoch: the checkpoint (with its metrics.csv row, see linnet.runs), then summary.json.
    Nothing here grows with the epoch number: the history is not copied or re-written.

    curves.png is drawn when fit stops (unless draw_at_end is False: linnet.experiment draws it with
    the run's other figures) and, during a long run, redrawn after an epoch when `min_interval`
    seconds have passed since the last drawing (None: never drawn, for --no-plots). A figure costs
    ~0.1 s of CPU plus ~0.5 s to import matplotlib: drawn more often, it would take a visible share
    of a linear model's training time (and of the CPU the loop runs on).
    """
    min_interval = 30.0   # seconds: a person watching a long run sees the curves move; a short run draws once

    def __init__(self, run, meta: dict, summarize: Callable[[Sequence[EpochRecord]], dict],
                 min_interval: float | None = min_interval, draw_at_end: bool = True) -> None:
        self.run, self.meta, self.summarize, self.min_interval = run, meta, summarize, min_interval
        self.draw_at_end = draw_at_end and min_interval is not None
        self.last_drawn, self.drawn_epochs = time.monotonic(), -1

    def on_epoch_end(self, record, model, history) -> None:
        self.run.save_checkpoint(model.state_dict(), history, self.meta)
        self.run.write_json("summary.json", self.summarize(history))
        if self.min_interval is not None and time.monotonic() - self.last_drawn >= self.min_interval:
            self._draw(history)

    def on_fit_end(self, history, model) -> None:
        if self.draw_at_end and history and self.drawn_epochs != len(history):
            self._draw(history)

    def _draw(self, history) -> None:
        draw_curves(self.run, history)
        self.last_drawn, self.drawn_epochs = time.monotonic(), len(history)


def draw_curves(run, history, title: str | None = None) -> None:
    """curves.png of a run directory: losses and accuracies per epoch, titled with the run's name
    (and its dataset, read from config.json when `title` is not given)."""
    from linnet.errors import LinnetError
    from linnet.plots import plot_curves, run_title, save_figure
    if title is None:
        try:
            dataset = run.read_json("config.json").get("dataset", {}).get("name")
        except (LinnetError, AttributeError):  # no readable config: a title without the dataset, still the curves
            dataset = None
        title = run_title("Training curves", run.path.name, dataset)
    save_figure(plot_curves(history, title), run.path / "curves.png")


class LivePlot(Callback):
    """The curves redrawn after every epoch (the chapter's Animator) through linnet.liveview: in place in
    Jupyter; elsewhere, without IPython, into a PNG file (`path`, default ./liveplot.png, said once)
    plus the epoch's line."""

    def __init__(self, path: str | os.PathLike | None = None, out=None) -> None:
        self.view = LiveFigure("LivePlot", "liveplot", path, out)

    def on_epoch_end(self, record, model, history) -> None:
        from linnet.plots import plot_curves
        self.view.show(plot_curves(history), format_record(record))
