"""linnet.export and `linnet export`: the ONNX file, run by onnxruntime, gives linnet's own
probabilities and predictions on the test split; the preprocessing step; every refusal."""
import json
import sys
from types import SimpleNamespace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from conftest import write_fake_dataset
from helpers_train import run_cli, skip_plots
from linnet.experiment import load_for, loaders_for
from linnet.restore import load_run
from linnet.export import ExportError, Preprocessing, export_run, preprocessing_for, to_onnx
from linnet.models import build_model
from linnet.runs import RunDir
from linnet.train import predict_all


def session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def linnet_outputs(run_dir):
    """What linnet itself computes on the run's test split: (raw inputs, model outputs, predictions)."""
    run = load_run(run_dir)
    ds = load_for(run.config)
    _, test_iter = loaders_for(run.config, ds)
    outputs = torch.cat([run.model.forward(X) for X, _ in test_iter])   # (n, k) logits or (n, 1)
    return ds.test.images.numpy(), outputs, predict_all(run.model, test_iter)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three trained runs, shared by the module's tests (none of them writes into these)."""
    from linnet.cli import main
    d = tmp_path_factory.mktemp("runs")
    write_fake_dataset(d / "idx", 64, 30)                             # 28x28 IDX files, as Fashion-MNIST's
    with pytest.MonkeyPatch.context() as mp:
        skip_plots(mp)
        for argv in (["--dataset", "digits", "--epochs", "2", "--name", "digits"],
                     ["--dataset", "fashion-mnist", "--data-dir", str(d / "idx"), "--epochs", "1",
                      "--batch-size", "16", "--name", "fashion"],
                     ["--dataset", "digits", "--epochs", "1", "--impl", "concise", "--name", "digits-concise"],
                     ["--model", "linear", "--name", "linear"]):
            assert main(["train", *argv, "--runs-dir", str(d), "--quiet"]) == 0
    return d


@pytest.mark.parametrize("name, size", [("digits", 8), ("digits-concise", 8), ("fashion", 28)])
def test_softmax_run_round_trip_matches_linnet(runs, tmp_path, capsys, name, size):
    out = tmp_path / "model.onnx"
    rc, stdout, err = run_cli(["export", runs / name, "--format", "onnx", "--out", out], capsys)
    assert rc == 0, err
    assert stdout == (f"wrote {out}: images uint8 (N, {size}, {size}) -> probabilities float32 (N, 10), "
                      "label int64 (N,)\n")
    images, logits, labels = linnet_outputs(runs / name)
    assert images.dtype == np.uint8 and images.shape[1:] == (size, size)
    probabilities, label = session(out).run(None, {"images": images})    # raw uint8 in, no linnet, no torch
    np.testing.assert_allclose(probabilities, logits.softmax(1).numpy(), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(label, labels.numpy())


def test_linear_run_round_trip_matches_linnet(runs, capsys):
    rc, stdout, err = run_cli(["export", runs / "linear"], capsys)      # default: RUN_DIR/model.onnx
    assert rc == 0, err
    assert stdout.endswith("model.onnx: features float32 (N, 2) -> predictions float32 (N, 1)\n")
    features, predictions, _ = linnet_outputs(runs / "linear")
    assert features.dtype == np.float32 and features.shape[1] == 2
    (got,) = session(runs / "linear" / "model.onnx").run(None, {"features": features})
    assert got.shape == (len(features), 1)
    np.testing.assert_allclose(got, predictions.numpy(), atol=1e-5, rtol=0)


def test_metadata_names_the_classes_and_the_preprocessing(runs, tmp_path):
    path = export_run(runs / "digits", tmp_path / "m.onnx")
    model = onnx.load(path)
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["classes"]) == [str(d) for d in range(10)]
    assert json.loads(props["preprocessing"])["scale"] == pytest.approx(1 / 255)
    assert props["model"] == "softmax" and props["run"] == "digits" and props["epochs"] == "2"
    assert model.producer_name == "linnet"
    sess = session(path)
    assert [(i.name, i.type, i.shape) for i in sess.get_inputs()] == [("images", "tensor(uint8)", ["N", 8, 8])]
    assert [o.name for o in sess.get_outputs()] == ["probabilities", "label"]


@pytest.mark.parametrize("kind", ["softmax", "linear"])
def test_standardisation_step_inside_the_graph(tmp_path, kind):
    """The step a table run supplies: (x - mean) / std per feature, before the linear layer."""
    g = torch.Generator().manual_seed(0)
    model = build_model(kind, "fast", 3, 4 if kind == "softmax" else 1, generator=g)
    model.load_state_dict({k: torch.randn(v.shape, generator=g) for k, v in model.state_dict().items()})
    mean, std = (1.0, -2.0, 10.0), (0.5, 2.0, 4.0)
    prep = Preprocessing("features", "float32", (3,), mean=mean, std=std)
    path = tmp_path / "t.onnx"
    path.write_bytes(to_onnx(model, prep, ("a", "b", "c", "d") if kind == "softmax" else ()).SerializeToString())
    raw = torch.randn(50, 3, generator=g) * 5 + 3
    expected = model.forward((raw - torch.tensor(mean)) / torch.tensor(std))
    first = session(path).run(None, {"features": raw.numpy()})[0]
    np.testing.assert_allclose(first, expected.softmax(1) if kind == "softmax" else expected, atol=1e-5, rtol=0)


# -- refusals --------------------------------------------------------------------------------------

def test_missing_onnx_package_names_the_extra(runs, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)                       # import onnx -> ImportError
    rc, _, err = run_cli(["export", runs / "digits", "--out", runs / "never.onnx"], capsys)
    assert rc == 2
    assert err.strip() == ("linnet export: error: ONNX export needs the onnx package, which is not installed: "
                           "pip install 'linnet[onnx]'")
    assert not (runs / "never.onnx").exists()


def test_untrained_run_is_refused(runs, tmp_path, capsys):
    run = RunDir(runs / "digits")
    state, _, meta = run.load_checkpoint()
    copy = tmp_path / "untrained"
    copy.mkdir()
    (copy / "config.json").write_text((runs / "digits" / "config.json").read_text())
    meta.pop("rng_state")
    RunDir(copy).save_checkpoint(state, [], meta)                         # as a run killed before epoch 1
    rc, _, err = run_cli(["export", copy], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "has no completed epoch" in err and f"linnet train --resume {copy}" in err


def test_unknown_dataset_preprocessing_is_refused(runs):
    """A run on data whose preprocessing export does not know (a table, later) is refused, not guessed."""
    run = load_run(runs / "linear")
    table_run = SimpleNamespace(run_dir=run.run_dir, model=run.model, input_hw=None,
                                config=SimpleNamespace(resolved=lambda field: "my-table"))
    with pytest.raises(ExportError, match=r"linear: cannot be exported: it trained on 'my-table', whose "
                                          r"preprocessing linnet export does not know"):
        preprocessing_for(table_run)


def test_bad_arguments(runs, tmp_path, capsys):
    rc, _, err = run_cli(["export", tmp_path / "nothing"], capsys)
    assert rc == 2 and "run directory" in err and "does not exist" in err
    rc, _, err = run_cli(["export", runs / "digits", "--format", "tflite"], capsys)
    assert rc == 2 and "invalid choice: 'tflite'" in err
    rc, _, err = run_cli(["export", runs / "digits", "--out", tmp_path / "no" / "dir" / "m.onnx"], capsys)
    assert rc == 2 and "m.onnx: cannot write" in err
    with pytest.raises(ValueError, match=r"The 'format' parameter must be one of onnx. Got 'tflite'."):
        export_run(runs / "digits", format="tflite")


def test_preprocessing_is_validated():
    with pytest.raises(ValueError, match="'mean' and 'std' go together"):
        Preprocessing("features", "float32", (3,), mean=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match=r"'std' must have one value per feature \(3\). Got 2."):
        Preprocessing("features", "float32", (3,), mean=(0.0, 0.0, 0.0), std=(1.0, 1.0))
    model = build_model("linear", "fast", 2, 1)
    with pytest.raises(ValueError, match="gives 3 features per sample but the model takes 2"):
        to_onnx(model, Preprocessing("features", "float32", (3,)))


def test_a_scikit_learn_estimators_model_exports_too(tmp_path):
    """linnet.SoftmaxRegression's model_ is a linnet model: to_onnx takes it with a features input."""
    from sklearn.datasets import make_blobs

    from linnet import SoftmaxRegression
    X, y = make_blobs(n_samples=60, centers=3, n_features=4, random_state=0)
    est = SoftmaxRegression(random_state=0).fit(X, y)
    proto = to_onnx(est.model_, Preprocessing("features", "float32", (4,)), est.classes_.astype(str))
    path = tmp_path / "est.onnx"
    path.write_bytes(proto.SerializeToString())
    probabilities, label = session(path).run(None, {"features": X.astype(np.float32)})
    np.testing.assert_allclose(probabilities, est.predict_proba(X), atol=1e-5, rtol=0)
    np.testing.assert_array_equal(est.classes_[label], est.predict(X))
