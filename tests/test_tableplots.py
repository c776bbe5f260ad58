"""linnet.tableplots: the bar chart of each class's largest weights, by feature name."""
from __future__ import annotations

import torch

from linnet.tableplots import plot_top_weights


def test_each_class_shows_its_largest_weights_by_magnitude():
    W = torch.zeros(12, 4)
    W[7, 0], W[2, 0], W[5, 3] = -3.0, 2.0, 1.0                     # feature f7 dominates class a, negatively
    features = [f"f{i}" for i in range(12)]
    fig = plot_top_weights(W, features, ["a", "b", "c", "d"], top=3)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["a", "b", "c", "d"]
    first = axes[0]
    labels = [t.get_text() for t in first.get_yticklabels()]
    assert len(labels) == 3 and labels[-1] == "f7" and labels[-2] == "f2"   # largest at the top
    widths = [p.get_width() for p in first.patches]
    assert widths[-1] == -3.0 and widths[-2] == 2.0


def test_fewer_features_than_top_and_one_output():
    fig = plot_top_weights(torch.tensor([[0.5], [-1.0]]), ["x", "y"], ["target"])
    (ax,) = [ax for ax in fig.axes if ax.get_title()]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
