"""The book's plotting helpers: use_svg_display, set_figsize, set_axes, plot, show_images, Animator, plt.

`plot` and `show_images` draw with pyplot, as the book's do, so Jupyter's inline backend shows them
at the end of the cell and a script shows them with `d2l.plt.show()` (or saves them with
`d2l.plt.savefig`). The Animator is a live figure (linnet.liveview): redrawn in place in Jupyter;
in a script or terminal it needs no IPython and opens no window, but writes ./animator.png (the
path is printed once) and prints each added point as a line.
"""
from __future__ import annotations

import numpy as np
from matplotlib import pyplot as plt  # noqa: F401 (d2l.plt, as the book's)
from matplotlib.figure import Figure

from linnet import plots
from linnet.liveview import LiveFigure, in_notebook


def use_svg_display() -> None:
    """In Jupyter, show pyplot figures as SVG (the book's look); elsewhere nothing to do."""
    if in_notebook():
        try:
            from matplotlib_inline import backend_inline
        except ImportError:  # a kernel without matplotlib-inline keeps PNG figures
            return
        backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize=(3.5, 2.5)) -> None:
    """Default size of the next pyplot figures, in inches."""
    use_svg_display()
    plt.rcParams["figure.figsize"] = figsize


def set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend) -> None:
    """Labels, limits, scales, legend and grid of one matplotlib Axes."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_xscale(xscale)
    axes.set_yscale(yscale)
    axes.set_xlim(xlim)
    axes.set_ylim(ylim)
    if legend:
        axes.legend(legend)
    axes.grid()


def _has_one_axis(X) -> bool:
    return (hasattr(X, "ndim") and X.ndim == 1) or (isinstance(X, list) and not hasattr(X[0], "__len__"))


def plot(X, Y=None, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
         yscale="linear", fmts=("-", "m--", "g-.", "r:"), figsize=(3.5, 2.5), axes=None) -> None:
    """Curves Y against X (one or several; Y alone plots against the index) on `axes` or pyplot's current one."""
    set_figsize(figsize)
    axes = axes if axes else plt.gca()
    if _has_one_axis(X):
        X = [X]
    if Y is None:
        X, Y = [[]] * len(X), X
    elif _has_one_axis(Y):
        Y = [Y]
    if len(X) != len(Y):
        X = X * len(Y)
    axes.cla()
    for x, y, fmt in zip(X, Y, fmts):
        if len(x):
            axes.plot(x, y, fmt)
        else:
            axes.plot(y, fmt)
    set_axes(axes, xlabel, ylabel, xlim, ylim, xscale, yscale, legend or [])


def show_images(imgs, num_rows: int, num_cols: int, titles=None, scale: float = 1.5):
    """A titled grid of images (N, H, W) on a pyplot figure; returns its axes (a numpy array).

    linnet.plots.show_images draws the grid as one image in one Axes (far cheaper than an Axes per
    image), so the array holds that one Axes, where the book's holds one per image.
    """
    fig = plt.figure()
    plots.show_images(imgs, num_rows, num_cols, titles=list(titles) if titles else None, scale=scale, fig=fig)
    return np.array(fig.axes)


class Animator:
    """Curves that grow point by point (the book's Animator); `add(x, y)` appends and redraws.

    `path`: where the PNG goes outside Jupyter (default ./animator.png, then animator-2.png, ...
    for the next Animator of the same process); it is rewritten at most once a second, and by
    `flush()` (train_ch3 calls it when it ends; at the latest, at exit).
    """

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1, ncols=1, figsize=(3.5, 2.5),
                 path=None) -> None:
        legend = list(legend) if legend else []
        use_svg_display()
        self.fig = Figure(figsize=figsize)   # not pyplot's: no window, no second copy at the cell's end
        self.axes = self.fig.subplots(nrows, ncols)
        if nrows * ncols == 1:
            self.axes = [self.axes]
        self.config_axes = lambda: set_axes(self.axes[0], xlabel, ylabel, xlim, ylim, xscale, yscale, legend)
        self.X, self.Y, self.fmts = None, None, fmts
        self.xlabel, self.legend = xlabel or "x", legend
        self.view = LiveFigure("Animator", "animator", path, min_interval=1.0)

    def add(self, x, y) -> None:
        """Append one point to each curve (y: a number or one per curve; x: shared or one per curve)."""
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        self.axes[0].cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts):
            self.axes[0].plot(xs, ys, fmt)
        self.config_axes()
        self.view.show(self.fig, self._line(x, y))

    def flush(self) -> None:
        """Outside Jupyter, write the latest drawing now (add() rewrites the PNG at most once a second)."""
        self.view.flush()

    def _line(self, x, y) -> str:
        """'epoch 3: train loss 0.5123, train acc 0.8231, test acc 0.8110' for the point just added."""
        names = self.legend + [f"y{i + 1}" for i in range(len(self.legend), len(y))]
        shown = [f"{name} {float(b):.4f}" for name, b in zip(names, y) if b is not None]
        return f"{self.xlabel} {float(x[0]):g}: " + ", ".join(shown)
