"""Figures: image grids with titles (the chapter's show_images) and friends.

Uses matplotlib's object API with the Agg backend when saving, so nothing needs a display. Every
figure here is a `LinnetFigure`: a plain Figure that Jupyter also shows inline as the value of a
cell, without pyplot or `%matplotlib inline`. A run's figures carry a title saying what they show
(`titled`): a PNG mailed on its own still names its run and dataset.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from linnet.atomic import atomic_write_bytes


class LinnetFigure(Figure):
    """A Figure that IPython displays as a PNG (its _repr_png_ protocol).

    A Figure made without pyplot shows in Jupyter as "<Figure size ...>" text unless the inline
    backend happens to be loaded; this one renders itself, so `linnet.show_images(...)` at the end of
    a cell shows the grid. Where the inline backend registered its own printer, IPython uses that
    (one image either way)."""

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def titled(fig: Figure, title: str | None) -> Figure:
    """Put `title` above everything in the figure (saved with bbox_inches="tight", it is kept whole)."""
    if title:
        fig.text(0.5, 1.0, title, ha="center", va="bottom", fontsize=10, fontweight="bold")
    return fig


def run_title(what: str, run_name: str | None = None, dataset: str | None = None) -> str:
    """"<what>: <run> (<dataset>)", leaving out what is not known."""
    where = " ".join(p for p in (run_name, f"({dataset})" if dataset else None) if p)
    return f"{what}: {where}" if where else what


def tight_box(fig: Figure, dpi: float):
    """The box savefig(bbox_inches="tight") crops to, in inches, measured without drawing the figure.

    savefig's "tight" first draws the whole figure (rendering switched off) and only then measures
    it; for figures without a layout engine (all of linnet's) that draw changes nothing, and it cost
    a fifth of each figure's time. Measuring alone gives the same box: the tests compare the pixels."""
    from matplotlib.backends.backend_agg import RendererAgg
    saved_dpi = fig.dpi
    if dpi != saved_dpi:   # text is measured at the dpi it is saved at
        fig.dpi = dpi
    try:
        renderer = RendererAgg(int(fig.bbox.width), int(fig.bbox.height), dpi)
        return fig.get_tightbbox(renderer).padded(matplotlib.rcParams["savefig.pad_inches"])
    finally:
        if dpi != saved_dpi:
            fig.dpi = saved_dpi


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (Agg, no display needed), cropped to what it shows plus savefig's padding."""
    import io
    buf = io.BytesIO()
    # savefig's own pass where a layout engine (constrained layout) places the axes while drawing, and
    # where measuring at another dpi would resize a window (a pyplot figure with a GUI manager)
    own_pass = fig.get_layout_engine() is not None or (dpi != fig.dpi and fig.canvas.manager is not None)
    box = "tight" if own_pass else tight_box(fig, dpi)
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches=box)
    return buf.getvalue()


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Render to PNG in memory, then write atomically (a watcher never sees half a file)."""
    atomic_write_bytes(path, figure_png(fig, dpi))


def _as_hw(img) -> np.ndarray:
    """One image as (H, W), or (H, W, 3) when it has 3 channels (RGB image folders)."""
    img = img.detach().cpu().float().numpy() if hasattr(img, "detach") else np.asarray(img, dtype=np.float32)
    if img.ndim == 3 and img.shape[0] == 3:
        return img.transpose(1, 2, 0)                                    # (3, H, W) -> (H, W, 3)
    return img.reshape(img.shape[-2:])


def show_images(images, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5, title_colors: Sequence[str] | None = None, cmap: str = "gray",
                vmin: float | None = None, vmax: float | None = None, fig: Figure | None = None,
                title: str | None = None) -> Figure:
    """A grid of images (N, H, W) or (N, 1, H, W), each titled; returns the Figure.

    The grid is one montage image in one Axes with the titles as text: drawing 18 separate Axes
    costs ~10x more, and this figure is redrawn for every run. `fig`: draw into this (empty)
    figure instead of a new one, e.g. a pyplot figure that Jupyter's inline backend shows;
    `title`: one line above the grid. In Jupyter the returned figure shows inline (LinnetFigure).
    """
    tiles = [_as_hw(images[i]) for i in range(min(len(images), num_rows * num_cols))]
    h, w = tiles[0].shape[:2] if tiles else (1, 1)
    rgb = bool(tiles) and tiles[0].ndim == 3  # colour tiles: a white RGB montage instead of a colormap
    lines = max((t.count("\n") + 1 for t in titles), default=0) if titles else 0
    pad, band = max(1, w // 10), (int(np.ceil(h * 0.15 * lines)) + 1 if lines else 0)  # title band above each row
    cell_h, cell_w = band + h + pad, w + pad
    montage = np.full((num_rows * cell_h, num_cols * cell_w - pad, *((3,) if rgb else ())),
                      1.0 if rgb else np.nan, dtype=np.float32)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, num_cols)
        montage[r * cell_h + band:r * cell_h + band + h, c * cell_w:c * cell_w + w] = tile
    size = (num_cols * scale, num_rows * scale * cell_h / cell_w)
    if fig is None:
        fig = LinnetFigure(figsize=size)
    else:
        fig.set_size_inches(size)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="white")
    finite = montage[np.isfinite(montage)]
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if rgb:
        ax.imshow(np.clip(montage, 0.0, 1.0), interpolation="nearest")
    else:
        ax.imshow(montage, cmap=colormap, vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
    for i, tile_title in enumerate((titles or [])[:len(tiles)]):
        r, c = divmod(i, num_cols)
        color = title_colors[i] if title_colors is not None else "black"
        ax.text(c * cell_w + w / 2 - 0.5, r * cell_h + band - 1, tile_title, ha="center", va="bottom",
                fontsize=8, color=color)
    return titled(fig, title)


def plot_curves(history, title: str | None = None) -> Figure:
    """The chapter's Animator figure, made readable: loss (train and test) on one axes, accuracy
    (train and test, 0 to 1) on another, so a huge loss never flattens the accuracy to a line at 0.
    Every epoch is a marker (a one-epoch run, e.g. L-BFGS, is a point, not an empty plot); epoch
    ticks are integers. Regression has no accuracy: one axes of losses, log scale."""
    classify = bool(history) and history[0].train_acc is not None
    fig = LinnetFigure(figsize=(8.0 if classify else 4.5, 3.2))
    axes = fig.subplots(1, 2 if classify else 1, squeeze=False)[0]
    epochs = [r.epoch for r in history]
    ax_loss = axes[0]
    ax_loss.plot(epochs, [r.train_loss for r in history], "o-", ms=4, label="train loss")
    ax_loss.plot(epochs, [r.test_loss for r in history], "s-.", ms=4, color="tab:green", label="test loss")
    ax_loss.set_ylabel("loss")
    if classify:
        ax_acc = axes[1]
        ax_acc.plot(epochs, [r.train_acc for r in history], "o--", ms=4, color="tab:purple", label="train acc")
        ax_acc.plot(epochs, [r.test_acc for r in history], "s-.", ms=4, color="tab:green", label="test acc")
        ax_acc.set_ylim(0.0, 1.02)
        ax_acc.set_ylabel("accuracy")
    elif all(r.train_loss > 0 and r.test_loss > 0 for r in history):  # log scale needs positive values
        ax_loss.set_yscale("log")
    last = max(epochs[-1] if epochs else 1, 1)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.set_xlim(min(epochs, default=1) - 0.5, last + 0.5)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    # A fixed layout instead of tight_layout(), which measures every label once more (a third of this
    # figure's time): the outer margins are cropped when saved, and the gap between the two axes holds
    # the accuracy axes' labels, the same "0.0".."1.0" and "accuracy" in every run.
    fig.subplots_adjust(left=0.09 if classify else 0.16, right=0.98, bottom=0.18, top=0.93, wspace=0.21)
    return titled(fig, title)


def sample_per_class(labels, n: int, seed: int = 0) -> list[int]:
    """Indices of `n` samples taken in turn from each class (label order), each class's own order
    shuffled by `seed`: deterministic, and a class-sorted test file still shows every class."""
    import torch
    labels = torch.as_tensor(labels).reshape(-1).long()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))   # (n_test,)
    order = order[torch.argsort(labels[order], stable=True)]          # grouped by class, shuffled within
    grouped = labels[order]
    starts = torch.searchsorted(grouped, grouped, right=False)        # first position of each one's class
    rank = torch.arange(len(grouped)) - starts                         # place within its class
    key = rank * (int(labels.max()) + 1 if len(labels) else 1) + grouped   # round by round, classes in order
    return order[torch.argsort(key, stable=True)][:n].tolist()


PREDICTION_KEY = "each image: true class (top line) / predicted class (bottom line); red: predicted wrongly"


def plot_predictions(images, true_labels: Sequence[str], pred_labels: Sequence[str], num_cols: int = 9,
                     title: str | None = None) -> Figure:
    """The chapter's predict_ch3: test images titled 'true / predicted'; wrong ones in red; a key
    under `title` says which line is which."""
    titles = [f"{t}\n{p}" for t, p in zip(true_labels, pred_labels)]
    colors = ["black" if t == p else "red" for t, p in zip(true_labels, pred_labels)]
    rows = max(1, -(-len(images) // num_cols))
    heading = f"{title}\n{PREDICTION_KEY}" if title else PREDICTION_KEY
    return show_images(images, rows, num_cols, titles=titles, title_colors=colors, title=heading)


def plot_confusion(matrix, classes: Sequence[str], title: str | None = None) -> Figure:
    """Confusion matrix: rows are true classes, columns predicted; counts written in the cells."""
    m = matrix.cpu().numpy() if hasattr(matrix, "cpu") else matrix
    k = len(classes)
    fig = LinnetFigure(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
    ax = fig.subplots()
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = m.max() / 2 if m.size else 0
    for i in range(k):
        for j in range(k):   # in_layout=False: inside their cells, the counts need not be measured for the crop
            ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > threshold else "black", in_layout=False)
    return titled(fig, title)


def plot_weights(W, image_hw: tuple[int, int], classes: Sequence[str], title: str | None = None) -> Figure:
    """Each class's weight column (d,) shown as an (H, W) image: red pushes toward the class, blue away
    (the colorbar gives the scale, symmetric about 0). For colour inputs (d = 3 H W) the three
    channels' weights are averaged into one image."""
    W = W.detach().cpu().float()
    limit = float(W.abs().max()) or 1.0
    cols = min(len(classes), 5)
    tiles = W.T.reshape(len(classes), -1, *image_hw).mean(dim=1)       # (d, k) -> (k, C, H, W) -> (k, H, W)
    fig = show_images(tiles, -(-len(classes) // cols), cols, titles=list(classes), scale=1.6,
                      cmap="bwr", vmin=-limit, vmax=limit, title=title)
    # beside the montage (which fills the figure): saved with bbox_inches="tight", it is kept whole
    cax = fig.add_axes((1.02, 0.1, 0.03, 0.8))
    fig.colorbar(fig.axes[0].images[0], cax=cax, label="weight")
    return fig


def plot_scatter(X, y, feature: int = 1, title: str | None = None) -> Figure:
    """The chapter's scatter of one synthetic feature against the labels."""
    fig = LinnetFigure(figsize=(4, 3))
    ax = fig.subplots()
    ax.scatter(X[:, feature].cpu().numpy(), y.reshape(-1).cpu().numpy(), s=2)
    ax.set_xlabel(f"feature x{feature + 1}")
    ax.set_ylabel("label y")
    return titled(fig, title)


def plot_losses(delta: float = 1.0) -> Figure:
    """L2, L1 and Huber losses with y = 0 (loss, likelihood exp(-loss), gradient), and LogSumExp as a soft max."""
    import torch

    from linnet.functional import huber_loss, l1_loss, squared_loss
    y_hat = torch.linspace(-3, 3, 601, dtype=torch.float64, requires_grad=True)
    y = torch.zeros_like(y_hat)
    fig = LinnetFigure(figsize=(14, 3.2))
    ax_loss, ax_lik, ax_grad, ax_lse = fig.subplots(1, 4)
    for name, fn in (("L2: ½(y'−y)²", squared_loss), ("L1: |y'−y|", l1_loss),
                     (f"Huber (δ={delta:g})", lambda a, b: huber_loss(a, b, delta))):
        loss = fn(y_hat, y).reshape(-1)
        (grad,) = torch.autograd.grad(loss.sum(), y_hat)
        x = y_hat.detach().numpy()
        ax_loss.plot(x, loss.detach().numpy(), label=name)
        ax_lik.plot(x, torch.exp(-loss).detach().numpy(), label=name)
        ax_grad.plot(x, grad.numpy(), label=name)
    for ax, title in ((ax_loss, "loss"), (ax_lik, "likelihood exp(−loss)"), (ax_grad, "gradient")):
        ax.set_title(title)
        ax.set_xlabel("y' (y = 0)")
        ax.grid(True, alpha=0.3)
    ax_loss.legend(fontsize=8)
    x = torch.linspace(-5, 5, 501, dtype=torch.float64)
    ax_lse.plot(x, torch.logaddexp(x, torch.zeros_like(x)), label="log(eˣ + e⁰)")
    ax_lse.plot(x, torch.clamp(x, min=0), "--", label="max(x, 0)")
    ax_lse.set_title("LogSumExp: a soft maximum")
    ax_lse.set_xlabel("x")
    ax_lse.grid(True, alpha=0.3)
    ax_lse.legend(fontsize=8)
    fig.tight_layout()  # four panels: keep their labels apart
    return titled(fig, "Regression losses against the prediction y' (target y = 0), and LogSumExp")
