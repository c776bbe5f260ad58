"""`--data PATH`: what kind of data a path holds, and the loader for that kind.

    a folder                   an image folder (linnet.data.folders)
    *.csv, *.parquet, *.pq     a table (linnet.data.tables)
    *.npz                      arrays (linnet.data.tables)

Every kind ends as the same Dataset of Splits that the named datasets give, so the loader,
models, training loop and report need not know where the data came from.
"""
from __future__ import annotations

import os
from pathlib import Path

from linnet.errors import DataError

KINDS = ("folder", "table", "arrays")


def data_kind(path: str | os.PathLike) -> str:
    """'folder', 'table' or 'arrays'; a path that is none of them is one line saying what is accepted."""
    from linnet.data.tables import TABLE_SUFFIXES
    path = Path(path).expanduser()
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return "table"
    if suffix == ".npz":
        return "arrays"
    raise DataError(f"{path}: cannot tell what data this is (suffix {suffix or 'none'!r}); expected an image "
                    f"folder, a table ({', '.join(TABLE_SUFFIXES)}) or arrays (.npz)")


def load_path(path: str | os.PathLike, *, label: str | None = None, task: str = "classify", channels: int = 1,
              resize: tuple[int, int] | None = None, test_fraction: float = 0.2, seed: int = 0,
              stats: dict | None = None, cache: bool = True):
    """The Dataset at `path`. `task` is 'classify' (softmax regression) or 'regress' (linear regression);
    `stats` are a run's standardisation statistics (None: the training split's own)."""
    kind = data_kind(path)
    if kind == "folder":
        if task == "regress":
            raise DataError(f"{path}: an image folder has classes; linear regression trains on a table or an .npz")
        if label is not None:
            raise DataError(f"{path}: an image folder takes its labels from the class folders; --label is for tables")
        from linnet.data.folders import load_folder
        return load_folder(path, channels=channels, resize=resize, test_fraction=test_fraction, seed=seed, cache=cache)
    from linnet.data import tables
    if kind == "table":
        return tables.load_table(path, label=label, task=task, test_fraction=test_fraction, seed=seed, stats=stats)
    if label is not None:
        raise DataError(f"{path}: an .npz holds its labels as y (or y_train, y_test); --label is for tables")
    return tables.load_arrays(path, task=task, test_fraction=test_fraction, seed=seed, stats=stats)
