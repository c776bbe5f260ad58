"""linnet.data.tables: CSV / Parquet / npz -> float splits, training-split standardisation, bad tables."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from helpers_userdata import table_columns, write_table
from linnet.data.tables import load_arrays, load_table
from linnet.errors import DataError
from linnet.extras import MissingExtra


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_table_becomes_standardised_float_splits(tmp_path, suffix):
    cols = table_columns()
    del cols["price"]
    path = write_table(tmp_path / f"shop{suffix}", cols)
    ds = load_table(path, test_fraction=0.2, seed=0)
    assert ds.name == "shop" and ds.classes == ("large", "medium", "small")   # sorted label values
    assert ds.features == ("a", "b", "c", "const")                             # the label was the last column
    assert ds.train.images.dtype == torch.float32 and ds.train.images.shape == (72, 4)
    assert (len(ds.train), len(ds.test)) == (72, 18)
    assert torch.allclose(ds.train.images[:, :3].mean(0), torch.zeros(3), atol=1e-5)   # training split: mean 0
    assert torch.allclose(ds.train.images[:, :3].std(0, unbiased=False), torch.ones(3), atol=1e-4)
    assert not torch.allclose(ds.test.images[:, :3].mean(0), torch.zeros(3), atol=1e-3)  # the test rows were not used
    assert torch.all(ds.train.images[:, 3] == 0) and ds.stats["std"][3] == 1.0         # a constant column: 0
    assert any("'const'" in n for n in ds.notes)


def test_given_statistics_are_applied_instead_of_the_training_splits(tmp_path):
    path = write_table(tmp_path / "t.csv", {"x": np.arange(10.0), "y": np.arange(10) % 2})
    ds = load_table(path, stats={"mean": [100.0], "std": [2.0]})
    restored = torch.cat([ds.train.images[:, 0], ds.test.images[:, 0]]) * 2 + 100   # undo (x - 100) / 2
    assert sorted(restored.round().tolist()) == list(range(10))


def test_the_label_column_can_be_named_and_a_continuous_one_is_regression(tmp_path):
    cols = table_columns()
    del cols["kind"]
    path = write_table(tmp_path / "t.parquet", cols)
    ds = load_table(path, label="price", task="regress")
    assert ds.classes == () and ds.train.labels.shape == (72, 1) and ds.train.labels.dtype == torch.float32
    assert ds.features == ("a", "b", "c", "const")
    with pytest.raises(DataError, match=r"t\.parquet: column 'price': the label holds non-integer numbers "
                                        r"\(e\.g\. [-\d.]+\), a continuous target; train linear regression with --model linear"):
        load_table(path, label="price")


def test_a_non_numeric_feature_is_named_with_the_hint_to_encode_it(tmp_path):
    path = write_table(tmp_path / "t.csv", table_columns())            # 'kind' (strings) is a feature here
    with pytest.raises(DataError, match=r"t\.csv: column 'kind' is not numeric \(string, e\.g\. '\w+'\); "
                                        r"encode it as numbers"):
        load_table(path, label="price", task="regress")


def test_a_missing_cell_is_named_by_row_column_and_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,z,y\n1,2,0\n3,,1\n5,6,0\n")
    with pytest.raises(DataError, match=r"t\.csv: missing value in column 'z' at row 2 \(line 3 of the file\)"):
        load_table(path)


def test_a_nan_in_parquet_is_refused_with_its_row(tmp_path):
    x = np.arange(8.0)
    x[5] = np.nan
    path = write_table(tmp_path / "t.parquet", {"x": x, "y": np.arange(8) % 2})
    with pytest.raises(DataError, match=r"t\.parquet: missing value \(NaN\) in column 'x' at row 6;"):
        load_table(path)


def test_a_missing_label_column_lists_the_columns(tmp_path):
    path = write_table(tmp_path / "t.csv", {"x": np.arange(4.0), "y": np.arange(4) % 2})
    with pytest.raises(DataError, match=r"t\.csv: no label column 'target'; the columns are x, y"):
        load_table(path, label="target")


def test_a_table_without_rows_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,y\n")
    with pytest.raises(DataError, match=r"t\.csv: the table has no rows \(columns: x, y\)"):
        load_table(path)


def test_an_empty_file_and_a_single_column(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.csv: cannot be read as CSV \(Empty CSV file"):
        load_table(tmp_path / "e.csv")
    (tmp_path / "one.csv").write_text("y\n1\n0\n")
    with pytest.raises(DataError, match=r"one\.csv: needs a label column and at least one feature column"):
        load_table(tmp_path / "one.csv")


def test_one_class_only_is_refused(tmp_path):
    path = write_table(tmp_path / "t.csv", {"x": np.arange(6.0), "y": np.zeros(6, dtype=int)})
    with pytest.raises(DataError, match=r"the label has only one class"):
        load_table(path)


def test_a_missing_pyarrow_names_the_extra(tmp_path, monkeypatch):
    path = write_table(tmp_path / "t.csv", {"x": np.arange(4.0), "y": np.arange(4) % 2})
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(MissingExtra, match=r"t\.csv: reading CSV and Parquet needs the pyarrow package, which is "
                                           r"not installed: pip install 'linnet\[tables\]'"):
        load_table(path)


# -- arrays --------------------------------------------------------------------------------------------
def test_npz_with_its_own_test_split(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", X_train=rng.normal(size=(30, 4)), y_train=np.arange(30) % 3,
             X_test=rng.normal(size=(9, 4)), y_test=np.arange(9) % 3)
    ds = load_arrays(tmp_path / "a.npz")
    assert (len(ds.train), len(ds.test)) == (30, 9) and ds.classes == ("0", "1", "2")
    assert ds.features == ("x0", "x1", "x2", "x3")


def test_npz_x_y_is_split_and_uint8_images_stay_images(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "img.npz", X=rng.integers(0, 255, (40, 2, 5, 6), dtype=np.uint8), y=np.arange(40) % 2)
    ds = load_arrays(tmp_path / "img.npz")
    assert ds.is_images and ds.image_shape == (2, 5, 6) and (len(ds.train), len(ds.test)) == (32, 8)


@pytest.mark.parametrize("arrays, match", [
    (dict(A=np.zeros(3)), r"expected arrays X_train, y_train\[, X_test, y_test\] or X, y; got A"),
    (dict(X=np.zeros((4, 2)), y=np.zeros(3)), r"X must be \(N, features\) or uint8 images and y \(N,\)"),
    (dict(X_train=np.zeros((4, 2)), y_train=np.arange(4) % 2, X_test=np.zeros((2, 2))), r"one of X_test, y_test"),
    (dict(X=np.array([[1.0, np.nan]] * 10), y=np.arange(10) % 2), r"missing value \(NaN\) in column 'x1' at row 1"),
    (dict(X=np.zeros((0, 2)), y=np.zeros(0)), r"with N >= 1"),
    (dict(X=np.zeros((5, 4, 4), dtype=np.float32), y=np.arange(5) % 2), r"image arrays must be uint8"),
])
def test_bad_npz_contents_are_named(tmp_path, arrays, match):
    np.savez(tmp_path / "a.npz", **arrays)
    with pytest.raises(DataError, match=r"a\.npz: .*" + match):
        load_arrays(tmp_path / "a.npz")


def test_an_npz_that_is_not_one_or_needs_pickle(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"junk\.npz: cannot be read as \.npz"):
        load_arrays(tmp_path / "junk.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}] * 4, dtype=object), y=np.arange(4))
    with pytest.raises(DataError, match=r"obj\.npz: cannot be read as \.npz \(.*pickle"):
        load_arrays(tmp_path / "obj.npz")
