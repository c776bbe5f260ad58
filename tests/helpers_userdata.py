"""Generated user data for the --data tests: image folders, tables, arrays (all tiny, in tmp dirs).

Import what you need: `from helpers_userdata import write_folder, write_table  # noqa: F401`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def class_image(label: int, size: tuple[int, int], rng, colour: bool = False) -> np.ndarray:
    """A learnable image: class c is a bright bar in band c of the rows, plus noise."""
    h, w = size
    a = rng.integers(0, 40, size=(h, w), dtype=np.uint8)
    band = h // 4
    a[label * band:(label + 1) * band] += 180
    if colour:  # class 1 is red-ish, the others green-ish: a colour cue on top of the bars
        rgb = np.zeros((h, w, 3), dtype=np.uint8)
        rgb[..., 0 if label == 1 else 1] = a
        return rgb
    return a


def write_folder(root: Path, classes=("cat", "dog", "owl"), per_class: int = 12, sizes=((16, 16), (20, 18)),
                 split: bool = False, colour: bool = False, seed: int = 0) -> Path:
    """An ImageFolder tree of PNG and JPEG images; every 4th image has the second size."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for part in (("train", "test") if split else ("",)):
        for c, name in enumerate(classes):
            d = root / part / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class if part != "test" else max(2, per_class // 3)):
                size = sizes[1] if i % 4 == 3 else sizes[0]
                fmt = "jpg" if i % 2 else "png"
                Image.fromarray(class_image(c, size, rng, colour)).save(d / f"{i:03d}.{fmt}",
                                                                         **({"quality": 95} if fmt == "jpg" else {}))
    return root


def table_columns(n: int = 90, seed: int = 0) -> dict[str, np.ndarray]:
    """Numeric features (one constant), a 3-class label 'kind' and a continuous 'price'."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    score = X[:, 0] - (X[:, 1] - 50.0) / 10.0                                     # learnable from a and b
    kind = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))                # 3 balanced classes
    price = X @ np.array([2.0, -0.3, 5.0]) + 7.0 + 0.01 * rng.normal(size=n)
    return {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "const": np.full(n, 4.0),
            "price": price, "kind": np.array(["small", "medium", "large"])[kind]}


def write_table(path: Path, columns: dict[str, np.ndarray]) -> Path:
    """CSV (by suffix) with pyarrow, or Parquet; an object column with None becomes nulls."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    table = pa.table({k: pa.array(list(v) if v.dtype == object else v) for k, v in columns.items()})
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path
