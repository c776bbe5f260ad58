"""Figures: image grids with titles (the chapter's show_images) and friends.

Uses matplotlib's object API with the Agg backend when saving, so nothing needs a display.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

from matplotlib.figure import Figure

from linnet.atomic import atomic_write_bytes


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Render to PNG in memory, then write atomically (a watcher never sees half a file)."""
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def show_images(images, num_rows: int, num_cols: int, titles: Sequence[str] | None = None,
                scale: float = 1.5, title_colors: Sequence[str] | None = None) -> Figure:
    """A grid of images (N, H, W) or (N, 1, H, W), each titled; returns the Figure."""
    fig = Figure(figsize=(num_cols * scale, num_rows * scale + 0.3))
    axes = fig.subplots(num_rows, num_cols, squeeze=False).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= len(images):
            continue
        img = images[i]
        img = img.detach().cpu().numpy() if hasattr(img, "detach") else img
        ax.imshow(img.reshape(img.shape[-2:]), cmap="gray")
        if titles is not None and i < len(titles):
            color = title_colors[i] if title_colors is not None else "black"
            ax.set_title(titles[i], fontsize=8, color=color)
    fig.tight_layout()
    return fig


