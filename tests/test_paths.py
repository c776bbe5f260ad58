"""linnet.data.paths and `linnet train --data PATH` end to end: image folders, tables and arrays
through train, --resume, evaluate and predict; bad inputs as one line, exit 2, nothing written;
and linnet's accuracy on scikit-learn's digits exported to a table and an image folder."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from helpers_train import is_png, read_json, run_cli
from helpers_userdata import table_columns, write_folder, write_table
from linnet.data.paths import data_kind, load_path
from linnet.errors import DataError


def test_the_kind_of_a_path(tmp_path):
    (tmp_path / "f").mkdir()
    for name in ("t.csv", "t.PARQUET", "t.pq", "a.npz", "x.json"):
        (tmp_path / name).write_bytes(b"")
    assert [data_kind(tmp_path / n) for n in ("f", "t.csv", "t.PARQUET", "t.pq", "a.npz")] == \
        ["folder", "table", "table", "table", "arrays"]
    with pytest.raises(DataError, match=r"x\.json: cannot tell what data this is \(suffix '\.json'\); expected an image folder"):
        data_kind(tmp_path / "x.json")
    with pytest.raises(DataError, match=r"nope\.csv: no such file or folder"):
        data_kind(tmp_path / "nope.csv")


def test_options_that_do_not_fit_the_kind(tmp_path):
    root = write_folder(tmp_path / "p", classes=("a", "b"), per_class=4)
    with pytest.raises(DataError, match=r"p: an image folder has classes; linear regression trains on a table"):
        load_path(root, task="regress")
    with pytest.raises(DataError, match=r"p: an image folder takes its labels from the class folders"):
        load_path(root, label="y")


def _train(tmp_path, capsys, *args):
    rc, out, err = run_cli(["train", *args, "--runs-dir", tmp_path / "runs", "--quiet"], capsys)
    assert rc == 0, err
    return out, err


def test_an_image_folder_end_to_end(tmp_path, capsys):
    root = write_folder(tmp_path / "pets")
    out, err = _train(tmp_path, capsys, "--data", root, "--epochs", "3", "--name", "pets", "--impl", "scratch")
    run = tmp_path / "runs" / "pets"
    assert "test acc" in out and err == ""                                    # --quiet: notes not printed
    config = read_json(run / "config.json")
    assert config["settings"]["data"] == str(root.resolve()) and config["settings"]["test_fraction"] == 0.2
    assert config["dataset"]["input_hw"] == [16, 16] and config["dataset"]["channels"] == 1
    assert any(n.startswith("resized 9 of 36") for n in config["dataset"]["notes"])
    for fig in ("curves.png", "predictions.png", "confusion.png", "weights.png"):
        assert is_png(run / fig)
    assert read_json(run / "summary.json")["test_acc"] > 0.5                 # three bands: learnable
    _train(tmp_path, capsys, "--resume", run, "--epochs", "1")
    assert read_json(run / "summary.json")["epochs"] == 4
    rc, out, _ = run_cli(["evaluate", run], capsys)
    assert rc == 0 and "pets test split, 8 samples" in out and "  owl  " in out
    rc, out, _ = run_cli(["predict", run, root / "owl" / "003.jpg"], capsys)   # the odd size, resized as in training
    assert rc == 0 and out.startswith(f"{root / 'owl' / '003.jpg'}: ") and out.count(",") == 2


def test_an_rgb_folder_with_train_and_test_and_a_resize(tmp_path, capsys):
    root = write_folder(tmp_path / "rgb", split=True, colour=True)
    _train(tmp_path, capsys, "--data", root, "--channels", "3", "--resize", "8x10", "--epochs", "2", "--name", "rgb",
           "--tensorboard")                                                   # its weight pictures average the colours
    assert list((tmp_path / "runs" / "rgb" / "tensorboard").glob("events.out.tfevents.*"))
    config = read_json(tmp_path / "runs" / "rgb" / "config.json")
    assert config["dataset"]["num_inputs"] == 3 * 8 * 10 and config["dataset"]["test"] == 12
    rc, out, _ = run_cli(["predict", tmp_path / "runs" / "rgb", root / "test" / "dog" / "000.png"], capsys)
    assert rc == 0 and "dog" in out


def test_a_csv_table_end_to_end_with_stored_standardisation(tmp_path, capsys):
    cols = table_columns()
    del cols["price"]
    path = write_table(tmp_path / "shop.csv", cols)
    out, _ = _train(tmp_path, capsys, "--data", path, "--epochs", "5", "--name", "shop", "--impl", "concise")
    run = tmp_path / "runs" / "shop"
    assert is_png(run / "weights.png") and is_png(run / "confusion.png") and not (run / "predictions.png").exists()
    _train(tmp_path, capsys, "--resume", run, "--epochs", "2")
    from linnet.data.tables import load_table
    from linnet.restore import load_run
    loaded = load_run(run)
    ds = load_table(path)
    assert loaded.features == ("a", "b", "c", "const") and loaded.stats == ds.stats    # from the checkpoint
    rc, out, _ = run_cli(["evaluate", run], capsys)
    assert rc == 0 and "shop test split, 18 samples" in out
    rows = tmp_path / "rows.csv"
    rows.write_text("const,b,a,c,extra\n4,50,0.5,-3,x\n4,61,-1.5,-3.1,y\n")            # any order, extra column ignored
    rc, out, err = run_cli(["predict", run, rows, "--out", tmp_path / "pred.csv"], capsys)
    assert rc == 0, err
    table = list(csv.reader((tmp_path / "pred.csv").read_text().splitlines()))
    assert table[0] == ["row", "class", "prob_large", "prob_medium", "prob_small"]
    X = torch.tensor([[0.5, 50, -3, 4], [-1.5, 61, -3.1, 4]], dtype=torch.float64)
    Z = ((X - torch.tensor(ds.stats["mean"])) / torch.tensor(ds.stats["std"])).float()
    probs = loaded.model.forward(Z).softmax(1)
    for row, p in zip(table[1:], probs):
        assert row[1] == loaded.classes[int(p.argmax())]
        assert np.allclose([float(v) for v in row[2:]], p.tolist(), atol=1e-5)
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n")
    rc, _, err = run_cli(["predict", run, tmp_path / "bad.csv", "--out", tmp_path / "p2.csv"], capsys)
    assert rc == 2 and "bad.csv: no column 'const'; the columns are a, b, c" in err
    assert not (tmp_path / "p2.csv").exists()


def test_linear_regression_on_a_parquet_table(tmp_path, capsys):
    cols = table_columns(n=200)
    del cols["kind"]
    path = write_table(tmp_path / "prices.parquet", cols)
    out, _ = _train(tmp_path, capsys, "--data", path, "--model", "linear", "--label", "price", "--epochs", "30",
                    "--name", "lin")
    assert "test RMSE" in out
    summary = read_json(tmp_path / "runs" / "lin" / "summary.json")
    assert summary["test_rmse"] < 0.2 * np.std(cols["price"])                  # far better than the mean
    rc, out, _ = run_cli(["predict", tmp_path / "runs" / "lin", path], capsys)
    assert rc == 0 and out.splitlines()[0] == "row,prediction" and len(out.splitlines()) == 201
    rc, out, _ = run_cli(["evaluate", tmp_path / "runs" / "lin"], capsys)
    assert rc == 0 and f"test RMSE    {summary['test_rmse']:.4f}" in out


@pytest.mark.parametrize("impl", ["fast", "scratch", "concise"])
def test_npz_arrays_with_each_implementation(tmp_path, capsys, impl):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    np.savez(tmp_path / "a.npz", X=X, y=(X[:, 0] > 0).astype(int))
    _train(tmp_path, capsys, "--data", tmp_path / "a.npz", "--impl", impl, "--epochs", "5", "--name", impl)
    assert read_json(tmp_path / "runs" / impl / "summary.json")["test_acc"] >= 0.75
    _train(tmp_path, capsys, "--resume", tmp_path / "runs" / impl, "--epochs", "1")
    rc, out, _ = run_cli(["evaluate", tmp_path / "runs" / impl], capsys)
    assert rc == 0 and "a test split, 12 samples" in out and "test acc" in out


# -- bad inputs: one line, exit 2, no run directory ---------------------------------------------------
def _bad_folder(kind):
    def make(tmp_path):
        root = write_folder(tmp_path / "bad", classes=("a",) if kind == "one" else ("a", "b"), per_class=4)
        if kind == "empty":
            (root / "c").mkdir()
        if kind == "nonimage":
            (root / "a" / "x.gif").write_bytes(b"GIF89a but not really")
        return root
    return make


def _bad_table(text, name="bad.csv"):
    def make(tmp_path):
        (tmp_path / name).write_text(text)
        return tmp_path / name
    return make


BAD = [
    (_bad_folder("empty"), [], r"bad/c: the class folder holds no images"),
    (_bad_folder("nonimage"), [], r"bad/a/x\.gif: not an image file linnet can read"),
    (_bad_folder("one"), [], r"only one class folder \('a'\)"),
    (_bad_table("x,y\n1,0\n2,1\n"), ["--label", "z"], r"bad\.csv: no label column 'z'; the columns are x, y"),
    (_bad_table("x,y\n1,0\nNaN,1\n3,0\n"), [], r"bad\.csv: missing value in column 'x' at row 2 \(line 3 of the file\)"),
    (_bad_table("x,y\n"), [], r"bad\.csv: the table has no rows"),
    (_bad_table("x,s,y\n1,u,0\n"), [], r"bad\.csv: column 's' is not numeric"),
    (_bad_table("{}", "bad.json"), [], r"bad\.json: cannot tell what data this is"),
    (_bad_table("x,y\n1,0\n"), ["--mmap"], r"The --mmap option maps IDX files"),
    (_bad_table("x,y\n1,0\n"), ["--dataset", "digits"], r"Give --dataset or --data, not both"),
    (_bad_table("x,y\n1,0\n"), ["--channels", "3", "--test-fraction", "0"], r"The --test-fraction option must be"),
]


@pytest.mark.parametrize("make, extra, match", BAD, ids=[m for _, _, m in BAD])
def test_bad_data_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, make, extra, match):
    import re
    path = make(tmp_path)
    rc, out, err = run_cli(["train", "--data", path, *extra, "--runs-dir", tmp_path / "runs"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("linnet train: error: ") and re.search(match, err), err
    assert not (tmp_path / "runs").exists()


def test_label_without_data_is_refused(tmp_path, capsys):
    rc, _, err = run_cli(["train", "--label", "y", "--runs-dir", tmp_path / "runs"], capsys)
    assert rc == 2 and "The --label option names a table's column; it needs --data TABLE." in err


# -- digits exported by the test: the same accuracy as --dataset digits, and as scikit-learn's -------
@pytest.fixture(scope="module")
def digits_exports(tmp_path_factory):
    """The bundled digits as a CSV (bundled row order) and as train/ + test/ folders of --dataset digits' split."""
    from PIL import Image
    from sklearn.datasets import load_digits

    from linnet.data.sources import load_digits_dataset
    root = tmp_path_factory.mktemp("digits")
    bunch = load_digits()
    header = [f"p{i}" for i in range(64)] + ["digit"]
    rows = [",".join(map(str, [*x.astype(int), y])) for x, y in zip(bunch.data, bunch.target)]
    (root / "digits.csv").write_text(",".join(header) + "\n" + "\n".join(rows) + "\n")
    ds = load_digits_dataset()
    for part, split in (("train", ds.train), ("test", ds.test)):
        for i, (img, y) in enumerate(zip(split.images.numpy(), split.labels.tolist())):
            d = root / "img" / part / str(y)
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(d / f"{i:04d}.png")
    return root


def _test_acc(tmp_path, capsys, name, *args):
    _train(tmp_path, capsys, *args, "--name", name)
    return read_json(tmp_path / "runs" / name / "summary.json")["test_acc"]


SAME = ("--batch-size", "16", "--lr", "0.1")                                 # --dataset digits' defaults


@pytest.mark.slow  # ~50 s on the shared 2-core machine: run with pytest -m slow
def test_digits_as_csv_and_as_a_folder_match_dataset_digits(tmp_path, capsys, digits_exports):
    reference = _test_acc(tmp_path, capsys, "ref", "--dataset", "digits")      # 20 epochs
    folder = _test_acc(tmp_path, capsys, "folder", "--data", digits_exports / "img", *SAME, "--epochs", "20")
    table = _test_acc(tmp_path, capsys, "table", "--data", digits_exports / "digits.csv", *SAME, "--epochs", "20")
    print(f"digits test accuracy: --dataset digits {reference:.4f}, folder {folder:.4f}, csv {table:.4f}")
    assert abs(folder - reference) <= 0.01, (folder, reference)               # the same pixels, in another order
    # Standardised features condition SGD better than pixels / 255: after 20 epochs the table is
    # ahead (0.967 against 0.950 measured); never behind by more than a point. Equal at the plateau:
    # test_digits_table_matches_at_the_plateau (slow).
    assert table >= reference - 0.01, (table, reference)


@pytest.mark.slow
def test_digits_table_matches_at_the_plateau(tmp_path, capsys, digits_exports):
    reference = _test_acc(tmp_path, capsys, "ref", "--dataset", "digits", "--epochs", "80")
    table = _test_acc(tmp_path, capsys, "table", "--data", digits_exports / "digits.csv", *SAME, "--epochs", "80")
    print(f"digits test accuracy at 80 epochs: --dataset digits {reference:.4f}, csv {table:.4f}")
    assert abs(table - reference) <= 0.01, (table, reference)


@pytest.mark.slow  # ~30 s on the shared 2-core machine
def test_lbfgs_on_the_standardised_table_matches_sklearn_logistic_regression(tmp_path, capsys, digits_exports):
    from sklearn.linear_model import LogisticRegression

    from linnet.data.tables import load_table
    ds = load_table(digits_exports / "digits.csv")
    n = len(ds.train)
    # sklearn minimises C * sum(loss) + ||W||^2 / 2, i.e. mean(loss) + ||W||^2 / (2 C n): weight decay 1 / (C n)
    acc = _test_acc(tmp_path, capsys, "lbfgs", "--data", digits_exports / "digits.csv", "--solver", "lbfgs",
                    "--weight-decay", repr(1.0 / n))
    clf = LogisticRegression(C=1.0, max_iter=5000).fit(ds.train.images.numpy(), ds.train.labels.numpy())
    theirs = clf.score(ds.test.images.numpy(), ds.test.labels.numpy())
    print(f"digits csv, lbfgs: linnet {acc:.4f}, sklearn LogisticRegression {theirs:.4f}")
    assert abs(acc - theirs) <= 0.005, (acc, theirs)
    assert json.loads((tmp_path / "runs" / "lbfgs" / "config.json").read_text())["settings"]["solver"] == "lbfgs"


def test_the_python_api_takes_a_path(tmp_path):
    import linnet
    path = write_table(tmp_path / "t.csv", {"x": np.arange(20.0), "y": np.arange(20) % 2})
    ds = linnet.load_dataset(path=path, test_fraction=0.25)
    assert isinstance(ds, linnet.Dataset) and (len(ds.train), len(ds.test)) == (15, 5) and ds.features == ("x",)
    with pytest.raises(DataError, match=r"give a dataset name or a path, not both \(got 'digits' and '.*t\.csv'\)"):
        linnet.load_dataset("digits", path=path)


def test_table_and_rgb_folder_runs_export_to_onnx_with_their_preprocessing(tmp_path, capsys):
    """The graph standardises a table's raw columns itself (the checkpoint's statistics) and takes a
    colour folder's uint8 (3, H, W) pixels; onnxruntime agrees with linnet's own forward pass."""
    ort = pytest.importorskip("onnxruntime")
    from linnet.data.tables import standardise
    from linnet.restore import load_run
    from linnet.export import export_run
    cols = table_columns()
    del cols["price"]
    _train(tmp_path, capsys, "--data", write_table(tmp_path / "shop.csv", cols), "--epochs", "2", "--name", "t")
    run = load_run(tmp_path / "runs" / "t")
    X = np.stack([cols[c] for c in ("a", "b", "c", "const")], axis=1)[:5]                # raw columns
    session = ort.InferenceSession(str(export_run(tmp_path / "runs" / "t")))
    ours = run.model.forward(standardise(X, run.stats)).softmax(1).numpy()
    theirs = [o for o in session.run(None, {"features": X.astype(np.float32)}) if o.ndim == 2][0]
    assert np.allclose(theirs, ours, atol=1e-5)
    root = write_folder(tmp_path / "rgb", split=True, colour=True)
    _train(tmp_path, capsys, "--data", root, "--channels", "3", "--epochs", "1", "--name", "rgb")
    run = load_run(tmp_path / "runs" / "rgb")
    from linnet.data.folders import load_folder
    pixels = load_folder(root, channels=3).test.images[:4].numpy()                         # (4, 3, 16, 16) uint8
    session = ort.InferenceSession(str(export_run(tmp_path / "runs" / "rgb")))
    theirs = [o for o in session.run(None, {"images": pixels}) if o.ndim == 2][0]
    ours = run.model.forward(torch.from_numpy(pixels).float() / 255).softmax(1).numpy()
    assert np.allclose(theirs, ours, atol=1e-5)
