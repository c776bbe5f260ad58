import gc

import pytest
from helpers_train import is_png

from linnet.config import TrainConfig
from linnet.experiment import train
from linnet.runfigures import draw_final_figures, final_figures, figure_processes

IMAGE_FIGURES = ["curves.png", "predictions.png", "confusion.png", "weights.png"]


@pytest.fixture(autouse=True)
def collector_restored():
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A 1-epoch digits run without figures: what a run has when its figures are drawn."""
    cfg = TrainConfig(dataset="digits", epochs=1, plots=False, runs_dir=str(tmp_path_factory.mktemp("runs")), name="d")
    result = train(cfg, quiet=True)
    from linnet.metrics import confusion_matrix
    from linnet.rundata import loaders_for
    from linnet.train import predict_all
    preds = predict_all(result.model, loaders_for(cfg, result.dataset)[1], "cpu")
    return cfg, result, preds, confusion_matrix(result.dataset.test.labels, preds, len(result.dataset.classes))


def test_final_figures_of_an_image_run_are_the_four_in_order(digits_run):
    cfg, result, preds, matrix = digits_run
    names = [name for name, _ in final_figures(cfg, "d", result.model, result.dataset, result.history, preds, matrix)]
    assert names == IMAGE_FIGURES


def test_draw_final_figures_writes_them_with_the_collector_off_and_times_each(digits_run, tmp_path, monkeypatch):
    import linnet.plots as plots
    cfg, result, preds, matrix = digits_run
    real_save, collector = plots.save_figure, []

    def save(fig, path, dpi=100):
        collector.append(gc.isenabled())
        real_save(fig, path, dpi)

    monkeypatch.setattr(plots, "save_figure", save)
    gc.enable()
    seconds = {}
    written = draw_final_figures(cfg, tmp_path, result.model, result.dataset, result.history, preds, matrix, seconds,
                                 processes=1)
    assert written == [tmp_path / name for name in IMAGE_FIGURES] and all(is_png(p) for p in written)
    assert collector == [False] * 4 and gc.isenabled()
    assert set(seconds) == {"import", *IMAGE_FIGURES} and all(s >= 0 for s in seconds.values())


def test_two_processes_draw_every_figure_and_bring_back_the_childs_seconds(digits_run, tmp_path):
    import os
    cfg, result, preds, matrix = digits_run
    seconds = {}
    written = draw_final_figures(cfg, tmp_path, result.model, result.dataset, result.history, preds, matrix, seconds,
                                 processes=2)
    assert written == [tmp_path / name for name in IMAGE_FIGURES] and all(is_png(p) for p in written)
    assert set(seconds) == {"import", *IMAGE_FIGURES} and all(s >= 0 for s in seconds.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(IMAGE_FIGURES)     # no temporary file left
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)                                                  # the child was reaped


def test_what_the_child_fails_to_draw_is_drawn_by_the_parent(digits_run, tmp_path, monkeypatch):
    import os

    import linnet.plots as plots
    cfg, result, preds, matrix = digits_run
    parent, real = os.getpid(), plots.plot_confusion

    def confusion_failing_in_the_child(*args, **kwargs):
        if os.getpid() != parent:
            raise RuntimeError("the child cannot draw")
        return real(*args, **kwargs)

    monkeypatch.setattr(plots, "plot_confusion", confusion_failing_in_the_child)
    draw_final_figures(cfg, tmp_path, result.model, result.dataset, result.history, preds, matrix, processes=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(IMAGE_FIGURES) and is_png(tmp_path / "confusion.png")


def test_a_figure_that_fails_everywhere_raises_its_error_once_the_child_is_reaped(digits_run, tmp_path, monkeypatch):
    import os

    import linnet.plots as plots
    cfg, result, preds, matrix = digits_run

    def broken(*args, **kwargs):
        raise RuntimeError("no confusion matrix today")

    monkeypatch.setattr(plots, "plot_confusion", broken)
    with pytest.raises(RuntimeError, match="no confusion matrix today"):
        draw_final_figures(cfg, tmp_path, result.model, result.dataset, result.history, preds, matrix, processes=2)
    assert "confusion.png" not in {p.name for p in tmp_path.iterdir()}
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


@pytest.mark.parametrize("platform, cpus, notebook, expected", [
    ("linux", {0, 1}, False, 2), ("linux", {0}, False, 1), ("linux", {0, 1}, True, 1), ("darwin", {0, 1}, False, 1)])
def test_figure_processes_needs_linux_two_cpus_and_no_notebook(monkeypatch, platform, cpus, notebook, expected):
    import os
    import sys

    import linnet.liveview as liveview
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: cpus, raising=False)
    monkeypatch.setattr(liveview, "in_notebook", lambda: notebook)
    assert figure_processes() == expected
