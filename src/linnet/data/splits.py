"""A seeded train/test split of one pool of samples: stratified for classes, plain for regression.

Used when a user's data come without a test part (an image folder with no test/ folder, a table,
an npz with only X and y). scikit-learn's train_test_split does the work: the same call
`--dataset digits` makes, so a table of the digits in their bundled order splits exactly as
`--dataset digits` does. The same seed and rows always give the same split, so evaluate and
resume see exactly the samples the run trained on.
"""
from __future__ import annotations

import numpy as np

from linnet.checks import check_float
from linnet.errors import DataError


def split_indices(labels: np.ndarray | None, n: int, test_fraction: float, seed: int,
                  where: str) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices), each sorted; stratified by `labels` (None: regression)."""
    from sklearn.model_selection import train_test_split
    check_float("test_fraction", test_fraction, 0.0, 1.0)
    try:
        train, test = train_test_split(np.arange(n), test_size=test_fraction, stratify=labels, random_state=seed)
    except ValueError as exc:  # a class of one sample, a fraction that leaves a split empty
        raise DataError(f"{where}: cannot hold out {test_fraction:g} of {n} samples as a test split "
                        f"({str(exc).splitlines()[0]}); add samples or change --test-fraction") from None
    return np.sort(train), np.sort(test)
