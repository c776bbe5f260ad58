import io
import sys
import types

import pytest
from helpers_train import is_png
from matplotlib.figure import Figure

from linnet.liveview import PNG, LiveFigure, default_path, in_notebook


def figure(n: int = 1) -> Figure:
    fig = Figure(figsize=(2, 1.5))
    fig.subplots().plot(range(n), range(n))
    return fig


def test_outside_jupyter_the_png_is_written_and_its_path_said_once(terminal):
    out = io.StringIO()
    view = LiveFigure("Demo", "demo", out=out)
    view.show(figure(1), "point 1")
    first = (terminal / "demo.png").read_bytes()
    view.show(figure(3), "point 2")
    assert out.getvalue().splitlines() == [
        f"Demo: drawing to {terminal / 'demo.png'} (kept up to date; in Jupyter the figure shows in place)",
        "point 1", "point 2"]
    assert is_png(terminal / "demo.png") and (terminal / "demo.png").read_bytes() != first   # redrawn


def test_default_paths_never_collide_within_a_process(terminal):
    assert default_path("animator") == terminal / "animator.png"
    assert default_path("animator") == terminal / "animator-2.png"
    assert default_path("animator") == terminal / "animator-3.png"
    assert default_path("other") == terminal / "other.png"


def test_min_interval_defers_drawings_until_flush(terminal):
    out = io.StringIO()
    view = LiveFigure("Demo", "demo", out=out, min_interval=3600.0)
    view.show(figure(1), "a")                        # the first drawing is written at once
    first = (terminal / "demo.png").read_bytes()
    view.show(figure(2), "b")
    view.show(figure(3), "c")                        # within the interval: lines yes, file not yet
    assert (terminal / "demo.png").read_bytes() == first
    assert out.getvalue().splitlines()[1:] == ["a", "b", "c"]
    view.flush()                                     # the latest drawing reaches the file
    assert (terminal / "demo.png").read_bytes() != first
    assert view.pending is None and view.exit_hook   # (flush is also registered to run at exit)
    flushed = (terminal / "demo.png").read_bytes()
    view.flush()                                     # nothing pending: nothing rewritten
    assert (terminal / "demo.png").read_bytes() == flushed


@pytest.fixture
def notebook(monkeypatch):
    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    def display(obj, display_id=None):
        calls.append(("display", obj))
        return Handle()

    ipython = types.ModuleType("IPython")
    ipython.version_info = (9, 0, 0)
    ipython.get_ipython = lambda: type("ZMQInteractiveShell", (), {})()
    ipython.display = types.ModuleType("IPython.display")
    ipython.display.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython.display)
    return calls


def test_in_jupyter_one_output_is_updated_in_place_and_no_file_is_written(notebook, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    view = LiveFigure("Demo", "demo", out=out, min_interval=3600.0)   # no throttling in a notebook
    for n in (1, 2, 3):
        view.show(figure(n), f"point {n}")
    assert [kind for kind, _ in notebook] == ["display", "update", "update"]
    assert all(isinstance(obj, PNG) and obj._repr_png_().startswith(b"\x89PNG") for _, obj in notebook)
    assert out.getvalue() == "" and list(tmp_path.iterdir()) == []


def test_in_notebook_recognises_shells_derived_from_jupyters(monkeypatch):
    kernel = type("ZMQInteractiveShell", (), {})
    colab = type("Shell", (kernel,), {})      # Colab's shell derives from ipykernel's
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: colab()
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert in_notebook() is True
    ipython.get_ipython = lambda: type("TerminalInteractiveShell", (), {})()
    assert in_notebook() is False
    del ipython.get_ipython                    # an IPython module without get_ipython: not a notebook
    assert in_notebook() is False


def test_a_drawing_left_pending_at_exit_is_written_or_reported_in_one_line(terminal, capsys):
    view = LiveFigure("Demo", "demo", out=io.StringIO(), min_interval=3600.0)
    view.show(figure(1))
    view.show(figure(2))
    view._flush_at_exit()                              # what atexit runs
    assert view.pending is None and is_png(terminal / "demo.png")
    view.show(figure(3))
    view.path = terminal / "gone" / "demo.png"         # its directory disappeared meanwhile
    view._flush_at_exit()
    assert capsys.readouterr().err.startswith(f"Demo: could not write the last drawing to {view.path} (")
