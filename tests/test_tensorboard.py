"""linnet.tensorboard and `linnet train --tensorboard`: the event files hold exactly metrics.csv's
numbers and the weight images; resuming continues the curves; a missing package is one line."""
import sys

import pytest
import torch
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.backend.event_processing.event_accumulator import IMAGES, TENSORS, EventAccumulator
from tensorboard.context import RequestContext
from tensorboard.util import tensor_util

from helpers_train import metrics_rows, no_plots, run_cli  # noqa: F401
from linnet.config import TrainConfig
from linnet.errors import ConfigError
from linnet.tensorboard import TensorBoard, weight_images

COLUMNS = {"loss/train": "train_loss", "loss/test": "test_loss", "accuracy/train": "train_acc",
           "accuracy/test": "test_acc", "lr": "lr"}


def events(log_dir) -> EventAccumulator:
    ea = EventAccumulator(str(log_dir), size_guidance={TENSORS: 0, IMAGES: 0})   # 0: keep every event
    ea.Reload()
    return ea


def scalars(ea: EventAccumulator) -> dict[str, list[tuple[int, float]]]:
    return {tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in ea.Tensors(tag)]
            for tag in ea.Tags()["tensors"]}


def csv_series(run_dir, column) -> list[tuple[int, float]]:
    return [(int(row["epoch"]), float(row[column])) for row in metrics_rows(run_dir)]


def test_scalars_equal_metrics_csv_and_resume_continues(tmp_path, capsys, no_plots):
    rc, _, err = run_cli(["train", "--dataset", "digits", "--epochs", "3", "--runs-dir", tmp_path, "--name", "d",
                          "--quiet", "--tensorboard"], capsys)
    assert rc == 0, err
    run_dir = tmp_path / "d"
    got = scalars(events(run_dir / "tensorboard"))
    assert set(got) == set(COLUMNS)
    for tag, column in COLUMNS.items():
        assert got[tag] == csv_series(run_dir, column), tag          # exactly: double precision
    rc, _, err = run_cli(["train", "--resume", run_dir, "--epochs", "2", "--quiet"], capsys)
    assert rc == 0, err
    ea = events(run_dir / "tensorboard")                             # both event files, in order
    got = scalars(ea)
    for tag, column in COLUMNS.items():
        assert got[tag] == csv_series(run_dir, column), tag
    assert [s for s, _ in got["lr"]] == [1, 2, 3, 4, 5]
    images = ea.Tags()["images"]
    assert images == [f"weights/{d} {d}" for d in range(10)]
    assert [(e.step, e.width, e.height) for e in ea.Images("weights/3 3")] == [(s, 8, 8) for s in range(1, 6)]


def test_resume_can_switch_logging_on(tmp_path, capsys, no_plots):
    rc, _, err = run_cli(["train", "--dataset", "digits", "--epochs", "2", "--runs-dir", tmp_path, "--name", "d",
                          "--quiet"], capsys)
    assert rc == 0, err
    assert not (tmp_path / "d" / "tensorboard").exists()
    rc, _, err = run_cli(["train", "--resume", tmp_path / "d", "--epochs", "2", "--quiet", "--tensorboard"], capsys)
    assert rc == 0, err
    got = scalars(events(tmp_path / "d" / "tensorboard"))
    assert got["loss/train"] == csv_series(tmp_path / "d", "train_loss")[2:]   # epochs 3 and 4, as numbered


def test_tensorboard_reads_them_as_scalars(tmp_path, capsys, no_plots):
    """What the TensorBoard page shows goes through its data provider: the double-precision values arrive."""
    for name in ("a", "b"):
        rc, _, err = run_cli(["train", "--dataset", "digits", "--epochs", "2", "--runs-dir", tmp_path / "runs",
                              "--name", name, "--quiet", "--tensorboard", tmp_path / "tb"], capsys)
        assert rc == 0, err
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path / "tb"))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(tmp_path / "tb"))
    shown = provider.read_scalars(RequestContext(), experiment_id="", plugin_name="scalars", downsample=100)
    assert set(shown) == {"a", "b"}                                  # DIR/<run name>: one TensorBoard run each
    for run in ("a", "b"):
        assert [(p.step, p.value) for p in shown[run]["loss/test"]] == csv_series(tmp_path / "runs" / run, "test_loss")


def test_linear_run_has_no_accuracy_and_no_images(tmp_path, capsys, no_plots):
    rc, _, err = run_cli(["train", "--model", "linear", "--runs-dir", tmp_path, "--name", "lin", "--quiet",
                          "--tensorboard"], capsys)
    assert rc == 0, err
    ea = events(tmp_path / "lin" / "tensorboard")
    assert sorted(ea.Tags()["tensors"]) == ["loss/test", "loss/train", "lr"]
    assert ea.Tags()["images"] == []
    assert scalars(ea)["loss/train"] == csv_series(tmp_path / "lin", "train_loss")


def test_callback_in_the_python_api(tmp_path):
    import linnet
    data = linnet.load_dataset("digits")
    train_iter, test_iter = linnet.load_data(data, batch_size=64)
    model = linnet.build_model("softmax", "fast", 64, 10, generator=torch.Generator().manual_seed(0))
    cb = linnet.TensorBoard(tmp_path / "tb", image_hw=(8, 8), classes=data.classes)
    history = linnet.fit(model, train_iter, test_iter, epochs=2, lr=0.1, callbacks=[cb])
    history = linnet.fit(model, train_iter, test_iter, epochs=1, lr=0.1, start_epoch=2, history=history,
                         callbacks=[cb])                             # the same callback again: a second file
    got = scalars(events(tmp_path / "tb"))
    assert got["accuracy/test"] == [(r.epoch, r.test_acc) for r in history]
    assert len(list((tmp_path / "tb").glob("events.out.tfevents.*"))) == 2


def test_weight_images_colours():
    W = torch.tensor([[2.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]])      # (d=4, k=2), max |W| = 2
    images = weight_images(W, (2, 2))
    assert images.shape == (2, 3, 2, 2)
    red, green, blue = images[0].reshape(3, 4)
    assert red.tolist() == [1.0, 0.5, 1.0, 1.0] and blue.tolist() == [0.0, 1.0, 1.0, 0.5]
    assert green.tolist() == [0.0, 0.5, 1.0, 0.5]
    assert (images[1] == 1.0).all()                                  # all-zero weights: white


def test_missing_tensorboard_names_the_extra_before_writing(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # import -> ImportError
    rc, _, err = run_cli(["train", "--dataset", "digits", "--runs-dir", tmp_path, "--name", "x", "--tensorboard"],
                         capsys)
    assert rc == 2
    assert err == ("linnet train: error: TensorBoard logging needs the tensorboard package, which is not "
                   "installed: pip install 'linnet[tensorboard]'\n")
    assert not (tmp_path / "x").exists()
    with pytest.raises(ImportError, match=r"pip install 'linnet\[tensorboard\]'"):
        TensorBoard(tmp_path / "tb")


def test_a_log_directory_that_cannot_be_made_stops_before_the_run(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    rc, _, err = run_cli(["train", "--dataset", "digits", "--runs-dir", tmp_path, "--name", "x",
                          "--tensorboard", tmp_path / "file" / "tb"], capsys)
    assert rc == 2
    assert err == (f"linnet train: error: cannot create the TensorBoard directory {tmp_path / 'file' / 'tb'}: "
                   "Not a directory\n")
    assert not (tmp_path / "x").exists()


def test_bad_setting():
    with pytest.raises(ConfigError, match=r"The 'tensorboard' parameter must be a directory \(str\) or None. Got 3."):
        TrainConfig(dataset="digits", tensorboard=3)
