"""linnet.data.splits: seeded, stratified, and the same split --dataset digits makes."""
from __future__ import annotations

import numpy as np
import pytest

from linnet.data.splits import split_indices
from linnet.errors import ConfigError, DataError


def test_stratified_seeded_and_disjoint():
    labels = np.repeat([0, 1, 2], [10, 20, 30])
    tr, te = split_indices(labels, 60, 0.2, seed=1, where="x")
    assert np.bincount(labels[te]).tolist() == [2, 4, 6]
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 60
    assert np.array_equal(te, split_indices(labels, 60, 0.2, seed=1, where="x")[1])
    assert not np.array_equal(te, split_indices(labels, 60, 0.2, seed=2, where="x")[1])


def test_regression_splits_without_labels():
    tr, te = split_indices(None, 50, 0.3, seed=0, where="x")
    assert (len(tr), len(te)) == (35, 15)


def test_the_digits_rows_split_as_dataset_digits_does():
    from sklearn.datasets import load_digits

    from linnet.data.sources import load_digits_dataset
    bunch = load_digits()
    _, te = split_indices(bunch.target, len(bunch.target), 0.2, seed=0, where="digits")
    ds = load_digits_dataset()
    ours = np.rint(bunch.images[te] * (255 / 16)).astype(np.uint8)
    assert sorted(map(bytes, ours)) == sorted(map(bytes, ds.test.images.numpy()))


def test_impossible_splits_are_one_line():
    with pytest.raises(DataError, match=r"^pool: cannot hold out 0.5 of 3 samples as a test split \("):
        split_indices(np.array([0, 0, 1]), 3, 0.5, seed=0, where="pool")
    with pytest.raises(ConfigError, match=r"The 'test_fraction' parameter must be a float in \(0, 1\). Got 1.5."):
        split_indices(None, 10, 1.5, seed=0, where="pool")
