import pytest
import torch
from helpers_train import is_png
from matplotlib.figure import Figure

from linnet import plots
from linnet.train import EpochRecord

CLASSES = tuple(f"class {i}" for i in range(4))


def history(n=3, regression=False):
    return [EpochRecord(e, 0.1, 1.0 / e, None if regression else 0.5 + e / 10, 1.2 / e,
                        None if regression else 0.4 + e / 10, 0.1) for e in range(1, n + 1)]


def titles(fig):
    """The tile titles of a show_images montage (text in its one Axes)."""
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def title_colors(fig):
    return [t.get_color() for ax in fig.axes for t in ax.texts]


def montage(fig):
    import numpy as np
    grids = [ax for ax in fig.axes if ax.get_ylabel() != "weight"]    # a weights figure adds its colorbar
    assert len(grids) == 1 and len(fig.axes[0].images) == 1   # one image: the grid is a montage
    return np.asarray(fig.axes[0].images[0].get_array())


def test_save_figure_writes_a_valid_png_atomically(tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    path = tmp_path / "line.png"
    path.write_bytes(b"old")
    plots.save_figure(fig, path)
    assert is_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.png"]   # no temporary left


def test_show_images_titles_every_image_and_blanks_the_rest(tmp_path):
    import numpy as np
    X = torch.rand(5, 1, 8, 8)
    fig = plots.show_images(X, 2, 3, titles=["a", "b", "c", "d", "e"])
    assert isinstance(fig, Figure)
    assert titles(fig) == ["a", "b", "c", "d", "e"]
    grid = montage(fig)
    # every tile appears, pixel for pixel, and the sixth cell stays blank (masked)
    for i in range(5):
        hits = [np.array_equal(grid[r:r + 8, c:c + 8], X[i, 0].numpy())
                for r in range(grid.shape[0] - 7) for c in range(grid.shape[1] - 7)]
        assert sum(hits) == 1
    assert np.ma.getmaskarray(grid)[-8:, -8:].all() or np.isnan(np.asarray(grid)[-8:, -8:]).all()
    plots.save_figure(fig, tmp_path / "grid.png")
    assert is_png(tmp_path / "grid.png")


def test_show_images_accepts_hw_arrays_and_no_titles():
    X = torch.rand(2, 6, 5).numpy()
    fig = plots.show_images(X, 1, 2)
    assert titles(fig) == []
    grid = montage(fig)
    assert grid.shape[1] > 2 * 5                             # two 6x5 tiles side by side with a gap
    assert (grid[:6, :5] == X[0]).all() and (grid[:6, -5:] == X[1]).all()


def test_show_images_draws_into_a_given_figure_at_the_grids_size():
    given = Figure()
    fig = plots.show_images(torch.rand(4, 6, 6), 2, 2, titles=["a", "b", "c", "d"], scale=2.0, fig=given)
    assert fig is given and titles(fig) == ["a", "b", "c", "d"]
    assert tuple(fig.get_size_inches()) == pytest.approx(tuple(plots.show_images(torch.rand(4, 6, 6), 2, 2, titles=[
        "a", "b", "c", "d"], scale=2.0).get_size_inches()))


def labels_of(ax):
    return [line.get_label() for line in ax.lines]


def test_plot_curves_puts_losses_and_accuracies_on_separate_axes(tmp_path):
    fig = plots.plot_curves(history(4), title="Training curves: r1 (digits)")
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes
    assert labels_of(loss_ax) == ["train loss", "test loss"] and loss_ax.get_ylabel() == "loss"
    assert labels_of(acc_ax) == ["train acc", "test acc"] and acc_ax.get_ylim() == (0.0, 1.02)
    assert list(loss_ax.lines[1].get_ydata()) == [1.2 / e for e in range(1, 5)]     # test loss is drawn
    assert list(acc_ax.lines[1].get_xdata()) == [1, 2, 3, 4]
    assert all(line.get_marker() not in (None, "None", "") for ax in fig.axes for line in ax.lines)
    assert [t.get_text() for t in fig.texts] == ["Training curves: r1 (digits)"]
    plots.save_figure(fig, tmp_path / "curves.png")
    assert is_png(tmp_path / "curves.png")


def test_plot_curves_of_regression_is_one_axes_of_losses_on_a_log_scale(tmp_path):
    fig = plots.plot_curves(history(2, regression=True))
    assert len(fig.axes) == 1 and labels_of(fig.axes[0]) == ["train loss", "test loss"]
    assert fig.axes[0].get_yscale() == "log"
    assert fig.texts == []                                           # no title asked for, none drawn
    plots.save_figure(fig, tmp_path / "curves-linear.png")
    assert is_png(tmp_path / "curves-linear.png")


def test_plot_curves_of_one_epoch_shows_points_at_an_integer_tick(tmp_path):
    fig = plots.plot_curves(history(1))          # every L-BFGS run: a line through one point draws nothing
    for ax in fig.axes:
        assert all(len(line.get_xdata()) == 1 and line.get_marker() not in (None, "None", "") for line in ax.lines)
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks == [1]
    plots.save_figure(fig, tmp_path / "one.png")
    assert is_png(tmp_path / "one.png")


def test_plot_curves_of_many_epochs_has_integer_ticks():
    fig = plots.plot_curves(history(7))
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)



@pytest.mark.parametrize("records", [history(10), history(1), [EpochRecord(e, 0.1, 1e30 * e, 0.1, 1e31, 0.1, 0.1)
                                                                 for e in (1, 2)]], ids=["10 epochs", "1", "huge loss"])
def test_plot_curves_keeps_its_axes_and_title_apart(records):
    # a fixed layout, no tight_layout: the labels of one axes must not run into the other, nor the title
    from matplotlib.backends.backend_agg import RendererAgg
    fig = plots.plot_curves(records, title="Training curves: a-long-run-name-20261122-012341 (fashion-mnist)")
    renderer = RendererAgg(int(fig.bbox.width), int(fig.bbox.height), fig.dpi)
    loss_box, acc_box = (ax.get_tightbbox(renderer) for ax in fig.axes)    # with tick labels, axis labels, offset
    title_box = fig.texts[0].get_window_extent(renderer)
    assert loss_box.x1 < acc_box.x0
    assert title_box.y0 >= max(loss_box.y1, acc_box.y1)

def test_a_linnet_figure_shows_itself_as_png_in_jupyter():
    fig = plots.show_images(torch.rand(2, 1, 4, 4), 1, 2)
    assert isinstance(fig, plots.LinnetFigure)
    assert fig._repr_png_().startswith(b"\x89PNG\r\n\x1a\n")


def test_run_title_names_what_is_known():
    assert plots.run_title("Weights", "r1", "digits") == "Weights: r1 (digits)"
    assert plots.run_title("Weights", "r1") == "Weights: r1"
    assert plots.run_title("Weights") == "Weights"


def test_sample_per_class_of_a_class_sorted_test_set_shows_every_class():
    labels = torch.arange(10).repeat_interleave(100)                 # 0 x100, 1 x100, ...: sorted by class
    pick = plots.sample_per_class(labels, 18)
    counts = torch.bincount(labels[pick], minlength=10)
    assert len(pick) == 18 and len(set(pick)) == 18
    assert counts.min() >= 1 and counts.max() - counts.min() <= 1    # 2 of eight classes, 1 of two
    assert labels[pick[:10]].tolist() == list(range(10))              # one of each, in label order, first
    assert plots.sample_per_class(labels, 18) == pick                 # deterministic
    other = plots.sample_per_class(labels, 18, seed=1)
    assert other != pick and labels[other].tolist() == labels[pick].tolist()


def test_sample_per_class_with_few_samples_or_missing_classes():
    labels = torch.tensor([3, 3, 3, 7])
    pick = plots.sample_per_class(labels, 18)
    assert sorted(pick) == [0, 1, 2, 3] and labels[pick[:2]].tolist() == [3, 7]
    assert plots.sample_per_class(torch.tensor([], dtype=torch.long), 5) == []


def test_plot_predictions_marks_wrong_ones_red(tmp_path):
    fig = plots.plot_predictions(torch.rand(3, 1, 8, 8), ["cat", "dog", "cow"], ["cat", "cow", "cow"], num_cols=3)
    assert isinstance(fig, Figure)
    assert titles(fig) == ["cat\ncat", "dog\ncow", "cow\ncow"]
    assert title_colors(fig) == ["black", "red", "black"]
    assert [t.get_text() for t in fig.texts] == [plots.PREDICTION_KEY]            # the key of the two lines
    fig = plots.plot_predictions(torch.rand(3, 1, 8, 8), ["a", "b", "c"], ["a", "b", "c"], title="Predictions: r1")
    assert fig.texts[0].get_text() == "Predictions: r1\n" + plots.PREDICTION_KEY
    assert "true class (top line)" in plots.PREDICTION_KEY and "predicted class (bottom line)" in plots.PREDICTION_KEY
    plots.save_figure(fig, tmp_path / "predictions.png")
    assert is_png(tmp_path / "predictions.png")


def test_plot_confusion_writes_the_counts(tmp_path):
    m = torch.tensor([[5, 1, 0, 0], [0, 4, 2, 0], [0, 0, 6, 0], [1, 0, 0, 3]])
    fig = plots.plot_confusion(m, CLASSES, title="Confusion matrix: r1 (digits)")
    assert isinstance(fig, Figure) and [t.get_text() for t in fig.texts] == ["Confusion matrix: r1 (digits)"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 16 and texts[:4] == ["5", "1", "0", "0"] and texts[-1] == "3"
    plots.save_figure(fig, tmp_path / "confusion.png")
    assert is_png(tmp_path / "confusion.png")


def test_plot_weights_shows_one_image_per_class(tmp_path):
    W = torch.randn(6 * 5, 4)
    fig = plots.plot_weights(W, (6, 5), CLASSES)
    assert isinstance(fig, Figure)
    assert titles(fig) == list(CLASSES)
    grid = montage(fig)
    band = grid.shape[0] - 6 - 1                             # one row of tiles: title band, 6 rows, gap
    assert torch.equal(torch.from_numpy(grid[band:band + 6, :5].copy()), W[:, 0].reshape(6, 5))
    assert fig.axes[0].images[0].get_cmap().name.startswith("bwr")
    colorbar = fig.axes[1]                                   # the scale of the colours, symmetric about 0
    assert colorbar.get_ylabel() == "weight"
    limit = float(W.abs().max())
    assert fig.axes[0].images[0].get_clim() == pytest.approx((-limit, limit))
    plots.save_figure(fig, tmp_path / "weights.png")
    assert is_png(tmp_path / "weights.png")


def test_plot_weights_of_all_zero_weights(tmp_path):
    plots.save_figure(plots.plot_weights(torch.zeros(4, 2), (2, 2), ("a", "b")), tmp_path / "zero.png")
    assert is_png(tmp_path / "zero.png")


def test_plot_scatter(tmp_path):
    X, y = torch.randn(50, 2), torch.randn(50, 1)
    fig = plots.plot_scatter(X, y)
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_xlabel() == "feature x2"
    assert fig.axes[0].collections[0].get_offsets().shape == (50, 2)
    plots.save_figure(fig, tmp_path / "scatter.png")
    assert is_png(tmp_path / "scatter.png")


def test_plot_losses_draws_l2_l1_huber_and_logsumexp(tmp_path):
    fig = plots.plot_losses()
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4
    loss_ax, lik_ax, grad_ax, lse_ax = fig.axes
    labels = [line.get_label() for line in loss_ax.lines]
    assert len(labels) == 3 and labels[0].startswith("L2") and labels[1].startswith("L1") and "Huber" in labels[2]
    assert "LogSumExp" in lse_ax.get_title()
    # gradients: L2 is y', L1 is sign(y'), Huber is clip(y', -1, 1)
    x, g_l2 = grad_ax.lines[0].get_data()
    _, g_l1 = grad_ax.lines[1].get_data()
    _, g_huber = grad_ax.lines[2].get_data()
    assert g_l2[-1] == pytest.approx(3.0) and g_l1[-1] == pytest.approx(1.0) and g_huber[-1] == pytest.approx(1.0)
    assert g_l2[0] == pytest.approx(-3.0) and g_huber[0] == pytest.approx(-1.0)
    plots.save_figure(fig, tmp_path / "losses.png")
    assert is_png(tmp_path / "losses.png")


# -- figure_png measures the tight box without savefig's extra drawing: the same pixels ----------

def pixels(png: bytes):
    import io

    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)))


def savefig_tight(fig, dpi=100) -> bytes:
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def seeded(*shape):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0))


FIGURES = {   # each made twice, so from seeded data
    "curves": lambda: plots.plot_curves(history(4), title="Training curves: r (d)"),
    "curves of a huge loss": lambda: plots.plot_curves([EpochRecord(e, 0.1, 1e30 * e, 0.1, 1e31, 0.1, 0.1)
                                                        for e in (1, 2)], title="Training curves: r (d)"),
    "regression curves": lambda: plots.plot_curves(history(3, regression=True), title="Training curves: r"),
    "predictions": lambda: plots.plot_predictions(seeded(10, 1, 8, 8), list("abcdefghij"), list("abcdefghiX"),
                                                  title="Predictions: r (d)"),
    "confusion": lambda: plots.plot_confusion(torch.arange(16).reshape(4, 4), CLASSES, title="Confusion: r (d)"),
    "weights": lambda: plots.plot_weights(seeded(36, 4) - 0.5, (6, 6), CLASSES, title="Weights: r (d)"),
    "scatter": lambda: plots.plot_scatter(seeded(20, 2), seeded(20, 1), title="Synthetic data: r"),
    "losses": plots.plot_losses,
}


@pytest.mark.parametrize("name", FIGURES)
def test_figure_png_is_savefig_tight_pixel_for_pixel(name):
    fig = FIGURES[name]()
    ours, theirs = pixels(plots.figure_png(fig)), pixels(savefig_tight(FIGURES[name]()))
    assert ours.shape == theirs.shape and (ours == theirs).all()


def test_figure_png_at_another_dpi_is_savefig_tight_and_leaves_the_figures_dpi():
    fig = FIGURES["confusion"]()
    dpi = fig.dpi
    ours = pixels(plots.figure_png(fig, dpi=50))
    assert fig.dpi == dpi
    theirs = pixels(savefig_tight(FIGURES["confusion"](), dpi=50))
    assert ours.shape == theirs.shape and (ours == theirs).all()


def test_figure_png_of_a_constrained_layout_figure_keeps_savefigs_own_pass():
    def make():
        fig = Figure(figsize=(4, 3), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        ax1.set_ylabel("a long label that the layout must make room for")
        ax2.plot([0, 1], [1, 0])
        return fig
    ours, theirs = pixels(plots.figure_png(make())), pixels(savefig_tight(make()))
    assert ours.shape == theirs.shape and (ours == theirs).all()


def test_plot_confusion_counts_left_out_of_the_crop_still_fit_in_it():
    # the counts are not measured for the crop (in_layout=False): even 7 digits stay inside their cells
    m = torch.full((10, 10), 1_000_000)
    classes = [f"class {i}" for i in range(10)]
    measured = plots.plot_confusion(m, classes)
    for text in measured.axes[0].texts:
        text.set_in_layout(True)
    ours, theirs = pixels(plots.figure_png(plots.plot_confusion(m, classes))), pixels(plots.figure_png(measured))
    assert ours.shape == theirs.shape and (ours == theirs).all()


def test_figure_png_of_a_pyplot_figure_at_another_dpi_keeps_savefigs_own_pass(monkeypatch):
    # measuring at another dpi changes the figure's dpi for a moment, which would resize a GUI window
    import matplotlib.pyplot as plt

    def make():
        fig = plt.figure(figsize=(3, 2), dpi=72)
        fig.subplots().plot([0, 1], [1, 0])
        return fig
    theirs = pixels(savefig_tight(make()))
    monkeypatch.setattr(plots, "tight_box", lambda fig, dpi: pytest.fail("measured at another dpi"))
    fig = make()
    try:
        ours = pixels(plots.figure_png(fig))
    finally:
        plt.close("all")
    assert ours.shape == theirs.shape and (ours == theirs).all() and fig.dpi == 72
