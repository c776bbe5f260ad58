"""linnet.progress: the widget in Jupyter only where ipywidgets is there; never tqdm's warning."""
import io
import warnings

from linnet import progress


def test_outside_jupyter_the_text_bar_shows_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "in_notebook", lambda: False)
    monkeypatch.setattr("sys.stderr", io.StringIO())                     # not a terminal
    bar = progress.progress_bar(10, "epoch 1")
    assert bar.disable
    bar.close()


def test_in_jupyter_without_ipywidgets_no_bar_and_no_warning(monkeypatch):
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(progress, "widgets_available", lambda: False)
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                   # tqdm's TqdmWarning would raise here
        bar = progress.progress_bar(10, "epoch 1")
        bar.update(1)
        bar.close()
    assert bar.disable and err.getvalue() == ""


def test_widgets_available_reflects_the_installation():
    import importlib.util
    assert progress.widgets_available() == (importlib.util.find_spec("ipywidgets") is not None)
