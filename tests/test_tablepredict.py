"""linnet.tablepredict: new rows through the run's columns and standardisation, CSV out, bad rows named."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from linnet.errors import DataError
from linnet.models import build_model
from linnet.tablepredict import predict_rows, read_rows, write_predictions


def _run(model="softmax"):
    k = 2 if model == "softmax" else 1
    m = build_model(model, "fast", 2, k, generator=torch.Generator().manual_seed(0))
    m.load_state_dict({"W": torch.tensor([[1.0, -1.0], [0.0, 2.0]]), "b": torch.zeros(2)} if k == 2 else
                      {"w": torch.tensor([[1.0], [2.0]]), "b": torch.tensor([3.0])})
    return SimpleNamespace(model=m, config=SimpleNamespace(model=model), classes=("no", "yes") if k == 2 else (),
                           features=("u", "v"), stats={"mean": [10.0, 0.0], "std": [2.0, 1.0]})


def test_rows_are_standardised_with_the_runs_statistics(tmp_path):
    (tmp_path / "r.csv").write_text("v,u,label\n1,12,x\n0,8,y\n")
    header, rows = predict_rows(_run(), tmp_path / "r.csv")
    assert header == ["row", "class", "prob_no", "prob_yes"]
    z = torch.tensor([[1.0, 1.0], [-1.0, 0.0]])                     # (u - 10) / 2, v
    probs = (z @ torch.tensor([[1.0, -1.0], [0.0, 2.0]])).softmax(1)
    assert [r[1] for r in rows] == [("no", "yes")[int(p.argmax())] for p in probs]
    assert np.allclose([r[2:] for r in rows], probs.numpy(), atol=1e-6)


def test_regression_writes_one_value_per_row_atomically(tmp_path):
    np.savez(tmp_path / "r.npz", X=np.array([[10.0, 1.0], [12.0, 0.0]]))
    text = write_predictions(_run("linear"), tmp_path / "r.npz", tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == text == "row,prediction\n1,5.0\n2,4.0\n"


@pytest.mark.parametrize("name, body, match", [
    ("r.csv", "u\n1\n", r"r\.csv: no column 'v'; the columns are u"),
    ("r.csv", "u,v\n1,\n", r"r\.csv: missing value in column 'v' at row 1 \(line 2 of the file\)"),
    ("r.csv", "u,v\n", r"r\.csv: the table has no rows"),
    ("r.txt", "u,v\n1,2\n", r"r\.txt: expected a table"),
])
def test_bad_rows_are_named(tmp_path, name, body, match):
    (tmp_path / name).write_text(body)
    with pytest.raises(DataError, match=match):
        read_rows(tmp_path / name, ("u", "v"))
