"""Progress bars shown where the user is: a widget in Jupyter, text on a terminal, nothing elsewhere.

tqdm.auto picks the notebook widget in Jupyter, but where ipywidgets is not installed it prints a
red "IProgress not found" warning on every epoch; here the widget is used only when ipywidgets is
importable, and otherwise no bar is drawn (the per-epoch lines still print). Outside Jupyter the
text bar shows only on a terminal (tqdm's disable=None), so piped output stays clean.
"""
from __future__ import annotations

import importlib.util
import sys

from linnet.liveview import in_notebook


def widgets_available() -> bool:
    """True where ipywidgets can be imported (found without importing it)."""
    return importlib.util.find_spec("ipywidgets") is not None


def progress_bar(total: int | None, desc: str, unit: str = "it", file=None):
    """A tqdm bar over `total` steps that closes without a trace (leave=False); on a terminal it
    draws to `file` (default: stderr)."""
    if in_notebook():
        if widgets_available():
            from tqdm.notebook import tqdm as notebook_tqdm
            return notebook_tqdm(total=total, desc=desc, leave=False, unit=unit)
        from tqdm.std import tqdm
        return tqdm(total=total, desc=desc, disable=True)   # no widget, and a text bar in a cell is noise
    from tqdm.std import tqdm
    return tqdm(total=total, desc=desc, leave=False, disable=None, unit=unit, file=file or sys.stderr)
