"""Figures for runs on tables: a table's weights are not an image, so each class gets a bar chart
of its largest weights (by magnitude), named by feature. Features are standardised, so the sizes
compare: a weight is the change in the class's logit (or the target) per standard deviation."""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from linnet.plots import LinnetFigure, titled


def plot_top_weights(W, features: Sequence[str], classes: Sequence[str], top: int = 10,
                     title: str | None = None) -> Figure:
    """W (d, k): per class (column), the `top` largest |weights|, red positive, blue negative."""
    W = W.detach().cpu().float()
    d, k = W.shape
    top = min(top, d)
    cols = min(k, 3)
    rows = -(-k // cols)
    fig = LinnetFigure(figsize=(4.2 * cols, 0.35 * top * rows + 1.0 * rows))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for j, ax in enumerate(axes):
        if j >= k:
            ax.axis("off")
            continue
        order = W[:, j].abs().argsort(descending=True)[:top].flip(0)     # largest at the top
        values = W[order, j].tolist()
        ax.barh(range(top), values, color=["tab:red" if v > 0 else "tab:blue" for v in values])
        ax.set_yticks(range(top), [str(features[i]) for i in order.tolist()], fontsize=8)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(str(classes[j]), fontsize=9)
    fig.tight_layout()
    return titled(fig, title)
