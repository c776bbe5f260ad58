"""Tables (CSV, Parquet) and arrays (.npz) -> float splits, standardised with training statistics.

A table is one pool of rows: the label column (`label`, default the last) and numeric feature
columns; a seeded split (stratified by class for classification) holds out the test rows. An
.npz holds X_train, y_train[, X_test, y_test] or X, y. Features are standardised with the mean
and standard deviation of the training split only (no peeking at the test rows); the run stores
those statistics so evaluate and predict apply exactly the same transform. An .npz of uint8
images (N, H, W) or (N, C, H, W) stays images and is not standardised.

CSV and Parquet are read with pyarrow (the `tables` extra): typed columns and real nulls, so a
missing cell is found and named, never silently read as 0. Every problem is one DataError naming
the file, the column and, for bad values, the row.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from linnet.data.splits import split_indices
from linnet.errors import DataError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
TASKS = ("classify", "regress")


def read_table(path: Path):
    """The file as a pyarrow Table; a missing pyarrow or an unreadable file is one line."""
    from linnet.extras import require
    pa = require("pyarrow", "tables", f"{path}: reading CSV and Parquet")
    pacsv, pq = require("pyarrow.csv", "tables", "CSV"), require("pyarrow.parquet", "tables", "Parquet")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".csv":
            return pacsv.read_csv(path)
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
        raise DataError(f"{path}: cannot be read as {kind} ({str(exc).splitlines()[0]})") from None


def _row_place(path: Path, i: int) -> str:
    """Row i (0-based) as a person finds it: 1-based, and the line of a CSV (after the header)."""
    return f"row {i + 1}" + (f" (line {i + 2} of the file)" if path.suffix.lower() == ".csv" else "")


def _column(table, name: str, path: Path, numeric: bool) -> np.ndarray:
    """One column as numpy, refused when it has a missing value, NaN or Inf (or is not numeric)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    col = table.column(name)
    if col.null_count:
        first = int(pc.index(pc.is_null(col), True).as_py())
        raise DataError(f"{path}: missing value in column {name!r} at {_row_place(path, first)}; "
                        "fill or drop the rows with missing values")
    kind = col.type
    is_number = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    if numeric and not is_number:
        example = col[0].as_py() if len(col) else None
        raise DataError(f"{path}: column {name!r} is not numeric ({kind}, e.g. {example!r}); encode it as "
                        "numbers (one 0/1 column per category, or integer codes) or drop it")
    values = col.to_numpy(zero_copy_only=False)
    if is_number:
        values = values.astype(np.float64)
        check_finite(values.reshape(-1, 1), [name], path)
    return values


def check_finite(X: np.ndarray, names, path: Path) -> None:
    bad = np.argwhere(~np.isfinite(X))
    if len(bad):
        i, j = bad[0]
        what = "missing value (NaN)" if np.isnan(X[i, j]) else f"infinite value ({X[i, j]})"
        raise DataError(f"{path}: {what} in column {names[j]!r} at {_row_place(path, int(i))}; "
                        "fill or drop the rows with missing values")


def feature_matrix(table, names, path: Path) -> np.ndarray:
    """(n, d) float64 of the named columns, each checked (exists, numeric, complete)."""
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r}; the columns are {', '.join(table.column_names)}")
    return np.stack([_column(table, n, path, numeric=True) for n in names], axis=1) if names else \
        np.zeros((table.num_rows, 0))


def encode_labels(train: np.ndarray, test: np.ndarray | None, where: str, name: str = "label"):
    """Class values -> (indices, indices, class names): sorted values; a float that is not a whole
    number means a continuous label (regression), said as such."""
    if train.dtype.kind == "f":
        if not np.all(np.isfinite(train)) or not np.all(train == np.round(train)):
            example = next(v for v in train if not np.isfinite(v) or v != round(v))
            raise DataError(f"{where}: the {name} holds non-integer numbers (e.g. {example:g}), a continuous "
                            "target; train linear regression with --model linear, or pick another --label")
        train = train.astype(np.int64)
        test = None if test is None else test.astype(np.int64)
    values = np.unique(train)
    if len(values) < 2:
        raise DataError(f"{where}: the {name} has only one class ({values[0]!r}); a classifier needs at least two")
    y_train = np.searchsorted(values, train)
    y_test = None
    if test is not None:
        unseen = np.setdiff1d(np.unique(test), values)
        if len(unseen):
            raise DataError(f"{where}: the test {name} has class {unseen[0]!r}, which the training data lack")
        y_test = np.searchsorted(values, test)
    return y_train, y_test, tuple(str(v) for v in values.tolist())


def standardisation(X_train: np.ndarray) -> tuple[dict, list[int]]:
    """Mean and std per feature (training split only); constant features get std 1 (they become 0)."""
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    constant = [j for j, s in enumerate(std) if s == 0]
    std[constant] = 1.0
    return {"mean": mean.tolist(), "std": std.tolist()}, constant


def standardise(X: np.ndarray, stats: dict):
    """(n, d) float64 -> (n, d) float32 tensor, (X - mean) / std with the run's statistics."""
    import torch
    mean, std = np.asarray(stats["mean"]), np.asarray(stats["std"])
    if X.shape[1] != len(mean):
        raise DataError(f"the data have {X.shape[1]} features but the run was trained on {len(mean)}")
    return torch.from_numpy(((X - mean) / std).astype(np.float32))


def features_dataset(name: str, parts, features, task: str, where: str, stats: dict | None = None,
                     classes: tuple[str, ...] | None = None):
    """A Dataset from raw ((X_train, y_train), (X_test, y_test)): labels encoded (or float targets),
    features standardised with `stats`, else with the training split's own."""
    import torch

    from linnet.data.dataset import Dataset, Split
    (X_tr, y_tr), (X_te, y_te) = parts
    notes = []
    if stats is None:
        stats, constant = standardisation(X_tr)
        if constant:
            notes.append("constant in the training split (standardised to 0): "
                         + ", ".join(repr(features[j]) for j in constant))
    if task == "regress":
        for y in (y_tr, y_te):
            if y.dtype.kind not in "fiub":
                raise DataError(f"{where}: the label is not numeric ({y.dtype}); linear regression needs a number")
        targets = [torch.from_numpy(y.astype(np.float32).reshape(-1, 1)) for y in (y_tr, y_te)]   # (n, 1)
        classes = ()
    else:
        y_tr, y_te, found = encode_labels(y_tr, y_te, where)
        classes = classes or found
        targets = [torch.from_numpy(y.astype(np.int64)) for y in (y_tr, y_te)]
    train, test = (Split(standardise(X, stats), t) for X, t in zip((X_tr, X_te), targets))
    return Dataset(name, train, test, tuple(classes), features=tuple(features), stats=stats, notes=tuple(notes))


def load_table(path: str | os.PathLike, label: str | None = None, task: str = "classify",
               test_fraction: float = 0.2, seed: int = 0, stats: dict | None = None):
    """A CSV or Parquet file as a Dataset (see the module docstring)."""
    path = Path(path).expanduser()
    table = read_table(path)
    columns = table.column_names
    if table.num_rows == 0:
        raise DataError(f"{path}: the table has no rows (columns: {', '.join(columns) or 'none'})")
    if len(columns) < 2:
        raise DataError(f"{path}: needs a label column and at least one feature column; got {columns}")
    label = columns[-1] if label is None else label
    if label not in columns:
        raise DataError(f"{path}: no label column {label!r}; the columns are {', '.join(columns)}")
    features = [c for c in columns if c != label]
    X = feature_matrix(table, features, path)                                   # (n, d) float64
    y = _column(table, label, path, numeric=task == "regress")
    if task == "classify" and y.dtype.kind == "f":
        encode_labels(y, None, f"{path}: column {label!r}", "label")           # a continuous label, said early
    strata = None if task == "regress" else np.unique(y, return_inverse=True)[1]
    tr, te = split_indices(strata, len(y), test_fraction, seed, str(path))
    return features_dataset(path.stem, ((X[tr], y[tr]), (X[te], y[te])), features, task,
                            f"{path}: column {label!r}", stats)


def load_arrays(path: str | os.PathLike, task: str = "classify", test_fraction: float = 0.2, seed: int = 0,
                stats: dict | None = None):
    """An .npz of X_train, y_train[, X_test, y_test] or X, y as a Dataset; uint8 (N, H, W[, C]) X stay images."""
    path = Path(path).expanduser()
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:  # not a zip, or object arrays (which need pickle)
        raise DataError(f"{path}: cannot be read as .npz ({str(exc).splitlines()[0]})") from None
    keys = sorted(arrays)
    if {"X_train", "y_train"} <= arrays.keys():
        if ("X_test" in arrays) != ("y_test" in arrays):
            raise DataError(f"{path}: has one of X_test, y_test without the other (keys: {', '.join(keys)})")
        parts = [(arrays["X_train"], arrays["y_train"])]
        if "X_test" in arrays:
            parts.append((arrays["X_test"], arrays["y_test"]))
    elif {"X", "y"} <= arrays.keys():
        parts = [(arrays["X"], arrays["y"])]
    else:
        raise DataError(f"{path}: expected arrays X_train, y_train[, X_test, y_test] or X, y; got {', '.join(keys) or 'none'}")
    for i, (X, y) in enumerate(parts):
        which = ("train", "test")[i] if len(parts) == 2 or "X_train" in arrays else ""
        sx, sy = f"X_{which}" if which else "X", f"y_{which}" if which else "y"
        if X.ndim < 2 or y.ndim != 1 or len(X) != len(y) or len(y) == 0:
            raise DataError(f"{path}: {sx} must be (N, features) or uint8 images and {sy} (N,) with N >= 1; "
                            f"got {sx} {X.shape} and {sy} {y.shape}")
    X_first = parts[0][0]
    if X_first.ndim >= 3 and (X_first.dtype != np.uint8 or X_first.ndim > 4):
        raise DataError(f"{path}: image arrays must be uint8 (N, H, W) or (N, C, H, W); got {X_first.dtype} {X_first.shape}")
    if len(parts) == 1:
        X, y = parts[0]
        strata = None if task == "regress" else np.unique(y, return_inverse=True)[1]
        tr, te = split_indices(strata, len(y), test_fraction, seed, str(path))
        parts = [(X[tr], y[tr]), (X[te], y[te])]
    (X_tr, _), (X_te, _) = parts
    if X_tr.shape[1:] != X_te.shape[1:]:
        raise DataError(f"{path}: train samples have shape {X_tr.shape[1:]} but test samples {X_te.shape[1:]}")
    if X_tr.ndim >= 3:
        return _image_arrays(path, parts, task)
    if X_tr.dtype.kind not in "fiub":
        raise DataError(f"{path}: X holds {X_tr.dtype} values; the features must be numbers")
    for X, _ in parts:
        check_finite(X.astype(np.float64), [f"x{j}" for j in range(X.shape[1])], path)
    return features_dataset(path.stem, [(X.astype(np.float64), y) for X, y in parts],
                            [f"x{j}" for j in range(X_tr.shape[1])], task, f"{path}: y", stats)


def _image_arrays(path: Path, parts, task: str):
    from linnet.data.dataset import Dataset, make_split
    if task == "regress":
        raise DataError(f"{path}: holds images; linear regression trains on tables (--model softmax for images)")
    (X_tr, y_tr), (X_te, y_te) = parts
    y_tr, y_te, classes = encode_labels(y_tr, y_te, f"{path}: y")
    k = len(classes)
    return Dataset(path.stem, make_split(X_tr, y_tr, k, f"{path}: train", channels=True),
                   make_split(X_te, y_te, k, f"{path}: test", channels=True),
                   classes)
