"""A figure that is redrawn as training goes, shown where the user is.

In a Jupyter kernel it is one output area updated in place (an IPython display handle showing PNG
bytes, whatever matplotlib backend is active). Anywhere else (a script, a terminal, IPython in a
terminal) it needs no IPython and opens no window: the PNG is written, atomically, to a file whose
path is said once, and each update prints its values as one line. linnet.LivePlot and the d2l
layer's Animator and predict_ch3 show their figures through this.
"""
from __future__ import annotations

import atexit
import os
import sys
import time
from pathlib import Path

from linnet.atomic import atomic_write_bytes

# PNG files chosen by default in this process: a second live figure never overwrites the first
_default_paths: set[Path] = set()


def in_notebook() -> bool:
    """True inside a Jupyter kernel (classic, lab, VS Code, Colab: their shells derive from ipykernel's)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return shell is not None and any(c.__name__ == "ZMQInteractiveShell" for c in type(shell).__mro__)


class PNG:
    """PNG bytes that IPython's display shows as an image (its _repr_png_ protocol)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def _repr_png_(self) -> bytes:
        return self.data


def default_path(stem: str) -> Path:
    """`<cwd>/<stem>.png`, or `<stem>-2.png`, ... when an earlier live figure of this process took it."""
    n = 1
    while (path := Path.cwd() / (f"{stem}.png" if n == 1 else f"{stem}-{n}.png")) in _default_paths:
        n += 1
    _default_paths.add(path)
    return path


class LiveFigure:
    """Show successive drawings of one figure: in place in Jupyter, else as a PNG file plus text lines.

    `who` names the figure in the one line that says where the file is; `path` is that file
    (default: `<stem>.png` in the current directory, chosen at the first drawing). The file is
    rewritten at most every `min_interval` seconds (a drawing costs tenths of a second, more than a
    step of a linear model); a drawing skipped that way is written by `flush()`, at the latest at exit.
    """

    def __init__(self, who: str, stem: str, path: str | os.PathLike | None = None, out=None,
                 min_interval: float = 0.0) -> None:
        self.who, self.stem, self.out, self.min_interval = who, stem, out, min_interval
        self.path = Path(path) if path is not None else None
        self.handle = None          # the notebook's display handle, once shown
        self.announced = False      # the file's path is said once
        self.pending = None         # a figure whose latest state is not in the file yet
        self.written = -float("inf")
        self.exit_hook = False

    def show(self, fig, line: str | None = None) -> None:
        """Draw `fig` (a matplotlib Figure) and, outside Jupyter, print `line`."""
        from linnet.plots import figure_png
        if in_notebook():
            from IPython.display import display
            png = figure_png(fig)
            if self.handle is None:
                self.handle = display(PNG(png), display_id=True)
            else:
                self.handle.update(PNG(png))
            return
        out = self.out or sys.stdout
        if not self.announced:
            self.path = self.path or default_path(self.stem)
            self.announced = True
            print(f"{self.who}: drawing to {self.path} (kept up to date; in Jupyter the figure shows in place)",
                  file=out)
        if line:
            print(line, file=out, flush=True)
        self.pending = fig
        if time.monotonic() - self.written >= self.min_interval:
            self.flush()
        elif not self.exit_hook:   # a script's last drawing reaches the file even if no one flushes
            atexit.register(self._flush_at_exit)
            self.exit_hook = True

    def _flush_at_exit(self) -> None:
        try:
            self.flush()
        except OSError as exc:   # the directory went away meanwhile: one line, not a traceback at exit
            print(f"{self.who}: could not write the last drawing to {self.path} ({exc})", file=sys.stderr)

    def flush(self) -> None:
        """Write the latest drawing to the file if it is not there yet (outside Jupyter)."""
        if self.pending is None:
            return
        from linnet.plots import figure_png
        fig, self.pending = self.pending, None
        atomic_write_bytes(self.path, figure_png(fig))
        self.written = time.monotonic()
