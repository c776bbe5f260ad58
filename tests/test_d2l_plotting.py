import io
import sys
import types

import numpy as np
import pytest
import torch
from helpers_train import is_png

from linnet.d2l.plotting import Animator, plot, plt, set_axes, set_figsize, show_images, use_svg_display


pytestmark = pytest.mark.usefixtures("terminal")   # outside Jupyter, in a scratch directory (conftest)


def test_set_figsize_sets_pyplots_default():
    old = tuple(plt.rcParams["figure.figsize"])
    try:
        set_figsize((4.5, 2.5))
        assert tuple(plt.rcParams["figure.figsize"]) == (4.5, 2.5)
    finally:
        plt.rcParams["figure.figsize"] = old


def test_use_svg_display_switches_jupyters_inline_format(monkeypatch):
    calls = []
    backend_inline = types.ModuleType("matplotlib_inline.backend_inline")
    backend_inline.set_matplotlib_formats = calls.append
    ipython = types.ModuleType("IPython")
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "matplotlib_inline", types.ModuleType("matplotlib_inline"))
    monkeypatch.setitem(sys.modules, "matplotlib_inline.backend_inline", backend_inline)
    ipython.get_ipython = lambda: type("TerminalInteractiveShell", (), {})()
    use_svg_display()
    assert calls == []                                             # not a notebook: nothing to switch
    ipython.get_ipython = lambda: type("ZMQInteractiveShell", (), {})()
    use_svg_display()
    assert calls == ["svg"]


def test_set_axes_configures_one_axes():
    ax = plt.figure().gca()
    ax.plot([1, 2, 3], [1, 10, 100])
    set_axes(ax, "x", "y", [1, 3], [1, 100], "linear", "log", ["curve"])
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_yscale()) == ("x", "y", "log")
    assert ax.get_xlim() == (1, 3) and ax.get_ylim() == (1, 100)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["curve"]


def test_plot_draws_one_or_several_curves_on_pyplots_axes():
    x = np.arange(-7, 7, 0.01)
    plot(x, [np.exp(-x ** 2 / 2), np.exp(-(x - 1) ** 2 / 2)], xlabel="x", ylabel="p(x)", figsize=(4.5, 2.5),
         legend=["mean 0", "mean 1"])
    ax = plt.gca()
    assert len(ax.lines) == 2 and ax.get_xlabel() == "x"
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), x)
    plot(torch.arange(5.0))                                         # Y alone: against its index
    assert len(plt.gca().lines) == 1 and list(plt.gca().lines[0].get_xdata()) == [0, 1, 2, 3, 4]


def test_show_images_draws_on_a_pyplot_figure_and_returns_its_axes():
    imgs = torch.rand(6, 28, 28)
    axes = show_images(imgs, 2, 3, titles=["a", "b", "c", "d", "e", "f"])
    assert isinstance(axes, np.ndarray) and len(axes) == 1
    assert axes[0].figure is plt.gcf()                               # pyplot's: Jupyter's inline backend shows it
    assert [t.get_text() for t in axes[0].texts] == ["a", "b", "c", "d", "e", "f"]
    assert tuple(axes[0].figure.get_size_inches())[0] == pytest.approx(3 * 1.5)


def test_animator_outside_jupyter_writes_its_png_and_a_line_per_point(terminal):
    out = io.StringIO()
    animator = Animator(xlabel="epoch", xlim=[1, 3], legend=["train loss", "test acc"])
    animator.view.out = out
    for epoch, point in enumerate([(0.9, 0.5), (0.6, None), (0.4, 0.8)], start=1):
        animator.add(epoch, point)
    animator.flush()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"Animator: drawing to {terminal / 'animator.png'}")
    assert lines[1:] == ["epoch 1: train loss 0.9000, test acc 0.5000", "epoch 2: train loss 0.6000",
                         "epoch 3: train loss 0.4000, test acc 0.8000"]
    assert animator.X == [[1, 2, 3], [1, 3]] and animator.Y == [[0.9, 0.6, 0.4], [0.5, 0.8]]   # None skipped
    assert [len(line.get_xdata()) for line in animator.axes[0].lines] == [3, 2]
    assert is_png(terminal / "animator.png")
    assert plt.get_fignums() == []                                   # not a pyplot figure: no window, ever


def test_animator_names_unnamed_curves_and_takes_a_path(terminal):
    out = io.StringIO()
    animator = Animator(legend=["loss"], path=terminal / "curves.png")
    animator.view.out = out
    animator.add(0.5, (1.0, 2.0))
    animator.add([1, 2], [3.0, 4.0])                                 # one x per curve
    assert out.getvalue().splitlines()[1:] == ["x 0.5: loss 1.0000, y2 2.0000", "x 1: loss 3.0000, y2 4.0000"]
    assert animator.X == [[0.5, 1], [0.5, 2]]
    animator.flush()
    assert is_png(terminal / "curves.png")


def test_a_second_animator_gets_its_own_file(terminal):
    first, second = Animator(), Animator()
    first.view.out = second.view.out = io.StringIO()
    first.add(1, 1.0)
    second.add(1, 2.0)
    assert first.view.path == terminal / "animator.png" and second.view.path == terminal / "animator-2.png"
