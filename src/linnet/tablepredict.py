"""`linnet predict RUN rows.csv --out predictions.csv`: a table run's model applied to new rows.

The rows go through what the training rows went through: the run's feature columns, by name (any
other column, such as the label, is ignored), checked for missing or non-numeric values, and
standardised with the statistics stored in the run's checkpoint. The output has one row per input
row: the predicted class and each class's probability (or the predicted value for regression).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from linnet.atomic import atomic_write_text
from linnet.errors import DataError


def read_rows(path: str | os.PathLike, features) -> np.ndarray:
    """(n, d) float64: the run's feature columns of a CSV / Parquet file, or X of an .npz."""
    from linnet.data import tables
    path = Path(path).expanduser()
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                X = z["X"] if "X" in z.files else z["X_test"]
        except FileNotFoundError:
            raise DataError(f"{path}: no such file") from None
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataError(f"{path}: cannot read an array X (or X_test) from it ({str(exc).splitlines()[0]})") from None
        if X.ndim != 2 or X.shape[1] != len(features) or X.dtype.kind not in "fiub":
            raise DataError(f"{path}: X must be numbers of shape (n, {len(features)}); got {X.dtype} {X.shape}")
        tables.check_finite(X.astype(np.float64), list(features), path)
        return X.astype(np.float64)
    if path.suffix.lower() not in tables.TABLE_SUFFIXES:
        raise DataError(f"{path}: expected a table ({', '.join(tables.TABLE_SUFFIXES)}) or an .npz for a run on a table")
    table = tables.read_table(path)
    if table.num_rows == 0:
        raise DataError(f"{path}: the table has no rows")
    return tables.feature_matrix(table, list(features), path)


def predict_rows(run, path) -> tuple[list[str], list[list]]:
    """(header, rows) of the predictions of a loaded run (linnet.restore.load_run) on a table."""
    from linnet.data.tables import standardise
    X = standardise(read_rows(path, run.features), run.stats)                 # (n, d) float32
    out = run.model.forward(X)                                                # (n, k) logits or (n, 1)
    if run.config.model == "linear":
        return ["row", "prediction"], [[i + 1, float(v)] for i, v in enumerate(out[:, 0].tolist())]
    probs = out.softmax(dim=1)                                                # (n, k)
    header = ["row", "class", *(f"prob_{c}" for c in run.classes)]
    rows = [[i + 1, run.classes[int(p.argmax())], *(round(float(q), 6) for q in p)] for i, p in enumerate(probs)]
    return header, rows


def as_csv(header, rows) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_predictions(run, path, out: str | os.PathLike | None) -> str:
    """The predictions as CSV text; written atomically to `out` when given."""
    text = as_csv(*predict_rows(run, path))
    if out is not None:
        atomic_write_text(out, text)
    return text
