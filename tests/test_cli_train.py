"""`linnet train / evaluate / predict / losses` end to end, through linnet.cli.main."""
import contextlib
import dataclasses
import io
import json
import re

import numpy as np
import pytest
import torch
from helpers_train import (checkpoint_state, pty_chunks, is_png, metrics_rows, no_plots, read_json, report_figures,  # noqa: F401
                           run_cli, write_idx_dataset)
from PIL import Image

from linnet.models import kernel
from linnet.config import TrainConfig
from linnet.data.sources import FASHION_MNIST_CLASSES
from linnet.train import Callback, EpochRecord

FIGURES = ("curves.png", "predictions.png", "confusion.png", "weights.png")
EPOCH_LINE = re.compile(r"^epoch +(\d+)/(\d+)  train loss [\d.]+  train acc [\d.]+  test acc [\d.]+  lr [\d.e-]+  "
                        r"(\d+\.\d ms|[1-9]\d\d? ms|[1-9]\d?\.\d\d s|\d+ min \d\d s)$")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One full run with every default on digits (20 epochs, batch 16, lr 0.1), figures and all."""
    runs = tmp_path_factory.mktemp("runs")
    out, err = io.StringIO(), io.StringIO()
    from linnet.cli import main
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["train", "--dataset", "digits", "--runs-dir", str(runs), "--name", "digits"])
    return rc, out.getvalue(), err.getvalue(), runs / "digits"


def assert_one_error_line(rc, err, start="linnet "):
    assert rc == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(start), err
    return lines[0]


# -- the default digits run ------------------------------------------------------------------------

def test_digits_with_defaults_trains_to_093_and_prints_one_line_per_epoch(digits_run):
    rc, out, err, run_dir = digits_run
    assert rc == 0, err
    lines = out.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch")]
    assert len(epoch_lines) == 20
    for e, line in enumerate(epoch_lines, start=1):
        m = EPOCH_LINE.match(line)
        assert m and int(m.group(1)) == e and m.group(2) == "20", line
    assert lines[20].startswith("final: train loss ") and "(20 epochs" in lines[20]
    assert lines[21] == f"run directory: {run_dir}"
    assert lines[22] == f"report: {run_dir / 'report.html'}"
    assert len(lines) == 23
    summary = read_json(run_dir / "summary.json")
    assert summary["test_acc"] >= 0.93
    assert f"test acc {summary['test_acc']:.3f}" in lines[20]


def test_summary_json(digits_run):
    run_dir = digits_run[3]
    s = read_json(run_dir / "summary.json")
    assert {"train_loss", "train_acc", "test_acc", "epochs", "train_seconds", "dataset", "impl"} <= set(s)
    assert s["epochs"] == 20 and s["dataset"] == "digits" and s["impl"] == "fast" and s["model"] == "softmax"
    assert 0 < s["train_loss"] < 0.5 and s["train_acc"] >= 0.93 and s["train_seconds"] > 0
    assert [r["class"] for r in s["per_class_acc"]] == list("0123456789")     # label order
    assert [r["label"] for r in s["per_class_acc"]] == list(range(10))
    assert all(0.7 <= r["acc"] <= 1.0 for r in s["per_class_acc"]) and sum(r["samples"] for r in s["per_class_acc"]) == 360


def test_config_json_has_every_setting_the_versions_and_the_seed(digits_run):
    run_dir = digits_run[3]
    c = read_json(run_dir / "config.json")
    assert set(c["settings"]) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert c["settings"]["seed"] == 0 and c["settings"]["dataset"] == "digits" and c["settings"]["name"] == "digits"
    assert c["resolved"] == {"dataset": "digits", "epochs": 20, "batch_size": 16, "lr": 0.1}
    assert set(c["versions"]) == {"linnet", "torch", "python", "fast kernel"}
    assert c["versions"]["torch"] == torch.__version__ and c["versions"]["fast kernel"] == kernel.describe()
    assert c["dataset"]["train"] == 1437 and c["dataset"]["test"] == 360 and c["dataset"]["input_hw"] == [8, 8]
    assert c["device"] in ("cpu", "cuda")
    assert TrainConfig(**c["settings"]) == TrainConfig(dataset="digits", runs_dir=str(run_dir.parent), name="digits")


def test_metrics_csv_has_one_row_per_epoch_matching_the_checkpoint(digits_run):
    run_dir = digits_run[3]
    rows = metrics_rows(run_dir)
    assert list(rows[0]) == [f.name for f in dataclasses.fields(EpochRecord)]
    assert [int(r["epoch"]) for r in rows] == list(range(1, 21))
    assert all(float(r["lr"]) == 0.1 for r in rows)
    assert float(rows[-1]["test_acc"]) == read_json(run_dir / "summary.json")["test_acc"]
    from linnet.runs import RunDir
    _, history, meta = RunDir(run_dir).load_checkpoint()
    assert [r.epoch for r in history] == list(range(1, 21))
    assert float(rows[-1]["train_loss"]) == history[-1].train_loss
    assert meta["model"] == "softmax" and meta["impl"] == "fast"


def test_every_figure_is_a_valid_png_and_nothing_is_left_over(digits_run):
    run_dir = digits_run[3]
    for name in FIGURES:
        assert is_png(run_dir / name), name
    names = {p.name for p in run_dir.iterdir()}
    assert names == {"config.json", "metrics.csv", "summary.json", "checkpoint.safetensors", "report.html", *FIGURES}


def test_checkpoint_is_safetensors_not_pickle(digits_run):
    from safetensors import safe_open
    path = digits_run[3] / "checkpoint.safetensors"
    data = path.read_bytes()                                        # safetensors: u64 header size, JSON,
    size = int.from_bytes(data[:8], "little")                       # tensors; not torch.save's zip (PK..)
    assert "__metadata__" in json.loads(data[8:8 + size])          # nor a pickle (\x80..)
    with safe_open(str(path), framework="pt") as f:
        assert {"model.W", "model.b", "rng.torch"} <= set(f.keys())
        assert f.get_tensor("model.W").shape == (64, 10)
        assert f.metadata()["epoch"] == "20"


def test_report_html_embeds_every_figure_and_links_nothing(digits_run):
    run_dir = digits_run[3]
    text = (run_dir / "report.html").read_text()
    assert report_figures(run_dir / "report.html") == list(FIGURES)   # data: URIs only: opens anywhere, offline
    assert "scatter.png" not in text                                 # only a linear run has one
    assert "Per-class test accuracy" in text and "Metrics per epoch" in text


# -- evaluate / predict on the digits run ----------------------------------------------------------

def test_evaluate_prints_test_loss_accuracy_and_per_class_accuracy(digits_run, capsys):
    run_dir = digits_run[3]
    rc, out, err = run_cli(["evaluate", run_dir], capsys)
    assert rc == 0, err
    summary = read_json(run_dir / "summary.json")
    assert f"test acc     {summary['test_acc']:.4f}" in out
    assert re.search(r"^test loss    \d+\.\d{4}$", out, re.M)
    per_class = re.findall(r"^  (\d)  (\d\.\d{3})  \((\d+) samples\)$", out, re.M)
    assert [c for c, _, _ in per_class] == list("0123456789")
    assert sum(int(n) for _, _, n in per_class) == 360
    for c, acc, _ in per_class:
        assert float(acc) == pytest.approx(summary["per_class_acc"][int(c)]["acc"], abs=6e-4)


def digit_like(path, colour: bool, size, fmt):
    """A dark '1' stroke on a light background (colour) or on black (grey), of any size."""
    w, h = size
    if colour:
        a = np.zeros((h, w, 3), dtype=np.uint8)
        a[...] = (250, 245, 230)                                       # light paper
        a[h // 6: 5 * h // 6, w // 2 - w // 20: w // 2 + w // 20] = (20, 30, 90)
        Image.fromarray(a, mode="RGB").save(path, format=fmt)
    else:
        a = np.zeros((h, w), dtype=np.uint8)
        a[h // 6: 5 * h // 6, w // 2 - w // 12: w // 2 + w // 12] = 255
        Image.fromarray(a, mode="L").save(path, format=fmt)
    return path


TOP3 = re.compile(r"^(.+): (\S+) (\d\.\d{3}), (\S+) (\d\.\d{3}), (\S+) (\d\.\d{3})$")


def top3(line):
    m = TOP3.match(line)
    assert m, line
    classes, probs = m.group(2, 4, 6), [float(p) for p in m.group(3, 5, 7)]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 2e-3
    assert len(set(classes)) == 3 and set(classes) <= set("0123456789")
    return m.group(1), classes, probs


def test_predict_prints_top3_for_png_and_jpeg_of_any_size(digits_run, tmp_path, capsys):
    png = digit_like(tmp_path / "photo.png", True, (300, 200), "PNG")
    jpg = digit_like(tmp_path / "grey.jpg", False, (37, 51), "JPEG")
    rc, out, err = run_cli(["predict", digits_run[3], png, jpg], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 2
    assert top3(lines[0])[0] == str(png) and top3(lines[1])[0] == str(jpg)
    assert top3(lines[0])[1][0] == "1" and top3(lines[1])[1][0] == "1"   # a vertical stroke is a one
    assert err == ""


def test_predict_reports_each_bad_file_and_still_predicts_the_good_ones(digits_run, tmp_path, capsys):
    good1 = digit_like(tmp_path / "a.png", True, (64, 64), "PNG")
    good2 = digit_like(tmp_path / "b.jpg", False, (28, 28), "JPEG")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x00\x01 not an image at all" * 10)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    folder = tmp_path / "folder"
    folder.mkdir()
    rc, out, err = run_cli(["predict", digits_run[3], good1, junk, empty, folder, good2], capsys)
    assert rc == 2
    assert [top3(line)[0] for line in out.splitlines()] == [str(good1), str(good2)]
    errors = err.strip().splitlines()
    assert len(errors) == 3 and "Traceback" not in err
    for line, bad in zip(errors, (junk, empty, folder)):
        assert line.startswith(f"linnet predict: error: {bad}: ")


def test_predict_with_a_missing_run_dir(tmp_path, capsys):
    png = digit_like(tmp_path / "a.png", True, (20, 20), "PNG")
    rc, _, err = run_cli(["predict", tmp_path / "nowhere", png], capsys)
    assert "does not exist" in assert_one_error_line(rc, err, "linnet predict: error: ")


# -- other runs --------------------------------------------------------------------------------------

def test_fashion_mnist_from_generated_idx_files(tmp_path, capsys):
    write_idx_dataset(tmp_path / "data", n_train=300, n_test=100)
    rc, out, err = run_cli(["train", "--dataset", "fashion-mnist", "--data-dir", tmp_path / "data", "--epochs", 2,
                            "--batch-size", 16, "--runs-dir", tmp_path / "runs", "--name", "fm", "--quiet"], capsys)
    assert rc == 0, err
    assert not any(line.startswith("epoch") for line in out.splitlines())   # --quiet
    run_dir = tmp_path / "runs" / "fm"
    s = read_json(run_dir / "summary.json")
    assert s["dataset"] == "fashion-mnist" and s["epochs"] == 2
    assert s["test_acc"] >= 0.9                                   # the bright band gives the class away
    c = read_json(run_dir / "config.json")
    assert c["dataset"]["classes"] == list(FASHION_MNIST_CLASSES)
    assert c["dataset"]["train"] == 300 and c["dataset"]["input_hw"] == [28, 28]
    assert checkpoint_state(run_dir)["W"].shape == (784, 10)
    assert len(metrics_rows(run_dir)) == 2
    for name in FIGURES:
        assert is_png(run_dir / name), name
    assert report_figures(run_dir / "report.html") == list(FIGURES)
    rc, out, err = run_cli(["evaluate", run_dir], capsys)
    assert rc == 0 and "Ankle boot" in out and f"test acc     {s['test_acc']:.4f}" in out


def test_resume_is_bit_exact(tmp_path, capsys, no_plots):
    runs = tmp_path / "runs"
    common = ["--dataset", "digits", "--seed", 3, "--runs-dir", runs, "--quiet"]
    assert run_cli(["train", *common, "--name", "A", "--epochs", 3], capsys)[0] == 0
    assert run_cli(["train", *common, "--name", "B", "--epochs", 2], capsys)[0] == 0
    assert read_json(runs / "B" / "summary.json")["epochs"] == 2
    rc, out, err = run_cli(["train", "--resume", runs / "B", "--epochs", 1], capsys)
    assert rc == 0, err
    assert [line for line in out.splitlines() if line.startswith("epoch")] == [
        line for line in out.splitlines() if line.startswith("epoch 3/3")]
    assert "(3 epochs" in out and f"run directory: {runs / 'B'}" in out
    a, b = checkpoint_state(runs / "A"), checkpoint_state(runs / "B")
    for name in ("W", "b"):
        assert torch.equal(a[name], b[name]), name
    assert read_json(runs / "B" / "summary.json")["epochs"] == 3
    rows_a, rows_b = metrics_rows(runs / "A"), metrics_rows(runs / "B")
    assert len(rows_b) == 3
    for ra, rb in zip(rows_a, rows_b):
        assert {k: v for k, v in ra.items() if k != "seconds"} == {k: v for k, v in rb.items() if k != "seconds"}
    assert sorted(p.name for p in (runs / "B").iterdir()) == sorted(p.name for p in (runs / "A").iterdir())


def test_the_three_impls_give_nearly_the_same_weights(tmp_path, capsys, no_plots):
    weights = {}
    for impl in ("fast", "scratch", "concise"):
        rc, _, err = run_cli(["train", "--dataset", "digits", "--impl", impl, "--epochs", 2, "--runs-dir", tmp_path,
                              "--name", impl, "--quiet"], capsys)
        assert rc == 0, err
        assert read_json(tmp_path / impl / "summary.json")["impl"] == impl
        weights[impl] = checkpoint_state(tmp_path / impl)
    for impl in ("scratch", "concise"):
        for name in ("W", "b"):
            torch.testing.assert_close(weights[impl][name], weights["fast"][name], rtol=1e-4, atol=1e-5)


def test_lbfgs_is_at_least_as_good_as_sgd(digits_run, tmp_path, capsys, no_plots):
    rc, out, err = run_cli(["train", "--dataset", "digits", "--solver", "lbfgs", "--runs-dir", tmp_path,
                            "--name", "lbfgs", "--quiet"], capsys)
    assert rc == 0, err
    assert not any(line.startswith("epoch") for line in out.splitlines()), out   # --quiet holds for lbfgs too
    s = read_json(tmp_path / "lbfgs" / "summary.json")
    sgd = read_json(digits_run[3] / "summary.json")
    assert s["solver"] == "lbfgs" and s["epochs"] == 1
    assert s["test_acc"] >= sgd["test_acc"] - 0.03
    assert s["train_loss"] < sgd["train_loss"]                   # the optimum of what SGD minimises
    rc, _, err = run_cli(["train", "--resume", tmp_path / "lbfgs", "--epochs", 1], capsys)
    assert "nothing to continue" in assert_one_error_line(rc, err, "linnet train: error: ")


@pytest.mark.parametrize("step, schedule, lrs", [(1, "exponential", [0.1, 0.05, 0.025]),
                                                 (2, "step", [0.1, 0.1, 0.05])])
def test_lr_decay_and_weight_decay_are_recorded(tmp_path, capsys, no_plots, step, schedule, lrs):
    rc, _, err = run_cli(["train", "--dataset", "digits", "--epochs", 3, "--lr-decay", 0.5, "--lr-step", step,
                          "--weight-decay", 1e-4, "--runs-dir", tmp_path, "--name", "d", "--quiet"], capsys)
    assert rc == 0, err
    c = read_json(tmp_path / "d" / "config.json")
    assert c["settings"]["lr_decay"] == 0.5 and c["settings"]["weight_decay"] == 1e-4
    assert c["settings"]["lr_step"] == step and c["lr_schedule"] == schedule
    assert [float(r["lr"]) for r in metrics_rows(tmp_path / "d")] == pytest.approx(lrs)


def test_linear_regression_prints_the_errors_in_w_and_b(tmp_path, capsys):
    rc, out, err = run_cli(["train", "--model", "linear", "--runs-dir", tmp_path, "--name", "lin", "--quiet"], capsys)
    assert rc == 0, err
    m = re.search(r"error in w: \[([-+\d., ]+)\]  error in b: ([-+]\d+\.\d+)", out)
    assert m, out
    w_err = [float(v) for v in m.group(1).split(",")]
    assert len(w_err) == 2 and all(abs(e) < 0.01 for e in w_err) and abs(float(m.group(2))) < 0.01
    run_dir = tmp_path / "lin"
    s = read_json(run_dir / "summary.json")
    assert s["dataset"] == "synthetic" and s["epochs"] == 3 and s["train_acc"] is None
    assert [abs(e) < 0.01 for e in s["w_error"]] == [True, True] and abs(s["b_error"]) < 0.01
    assert is_png(run_dir / "scatter.png") and is_png(run_dir / "curves.png")
    assert report_figures(run_dir / "report.html") == ["curves.png", "scatter.png"]
    assert [r["train_acc"] for r in metrics_rows(run_dir)] == ["", "", ""]
    rc, out, err = run_cli(["evaluate", run_dir], capsys)
    assert rc == 0, err
    assert "test loss" in out and "test acc" not in out
    rc, _, err = run_cli(["predict", run_dir, tmp_path / "x.png"], capsys)
    assert "predict needs a softmax-regression run" in assert_one_error_line(rc, err)


def test_linear_model_on_digits_is_refused(tmp_path, capsys):
    rc, out, err = run_cli(["train", "--model", "linear", "--dataset", "digits", "--runs-dir", tmp_path], capsys)
    assert "does not fit the dataset 'digits'" in assert_one_error_line(rc, err, "linnet train: error: ")
    assert list(tmp_path.iterdir()) == []


def test_losses_writes_a_png(tmp_path, capsys):
    out_file = tmp_path / "figs" / "losses.png"
    rc, out, err = run_cli(["losses", "--out", out_file], capsys)
    assert rc == 0, err
    assert is_png(out_file)
    assert out.strip() == f"losses figure: {out_file}"


def test_a_second_run_with_the_same_name_is_refused(tmp_path, capsys, no_plots):
    args = ["train", "--dataset", "digits", "--epochs", 1, "--runs-dir", tmp_path, "--name", "same", "--quiet"]
    assert run_cli(args, capsys)[0] == 0
    before = (tmp_path / "same" / "checkpoint.safetensors").read_bytes()
    rc, _, err = run_cli(args, capsys)
    line = assert_one_error_line(rc, err, "linnet train: error: ")
    assert "already exists" in line and f"--resume {tmp_path / 'same'}" in line
    assert (tmp_path / "same" / "checkpoint.safetensors").read_bytes() == before


# -- bad values ------------------------------------------------------------------------------------

BAD = [
    (["train", "--lr", "0"], "The --lr option"),
    (["train", "--lr", "-1"], "The --lr option"),
    (["train", "--lr", "nan"], "The --lr option"),
    (["train", "--batch-size", "0"], "The --batch-size option"),
    (["train", "--epochs", "0"], "The --epochs option"),
    (["train", "--epochs", "-3"], "The --epochs option"),
    (["train", "--weight-decay", "-0.1"], "The --weight-decay option"),
    (["train", "--lr-decay", "1.5"], "The --lr-decay option"),
    (["train", "--lr-step", "0"], "The --lr-step option"),
    (["train", "--seed", "-1"], "The --seed option"),
    (["train", "--resize", "0"], "The --resize option"),
    (["train", "--name", ".."], "The --name option"),
    (["train", "--resume", "/nonexistent/run"], "does not exist"),
]


@pytest.mark.parametrize("argv, names", BAD, ids=[" ".join(a[1:]) for a, _ in BAD])
def test_bad_values_give_one_line_and_exit_code_2(tmp_path, capsys, argv, names):
    # the CLI names the flag typed (--lr-decay), not the API's parameter (lr_decay): linnet.cli.common
    rc, out, err = run_cli([*argv, "--dataset", "digits", "--runs-dir", tmp_path / "runs", "--quiet"], capsys)
    line = assert_one_error_line(rc, err, "linnet train: error: ")
    assert names in line
    assert not (tmp_path / "runs").exists()                   # refused before anything was written


@pytest.mark.parametrize("argv", [
    ["train", "--dataset", "nope"],
    ["train", "--impl", "numpy"],
    ["train", "--solver", "adam"],
    ["train", "--device", "tpu"],
    ["train", "--lr", "fast"],
    ["train", "--batch-size", "1.5"],
    ["evaluate"],
    ["nope"],
])
def test_argparse_errors_exit_2_without_traceback(tmp_path, capsys, argv):
    rc, out, err = run_cli([*argv, "--runs-dir", tmp_path] if argv[0] == "train" else argv, capsys)
    assert rc == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("usage: linnet") and lines[-1].startswith("linnet") and "error:" in lines[-1]
    assert list(tmp_path.iterdir()) == []


def test_evaluate_a_missing_or_non_run_dir(tmp_path, capsys):
    rc, _, err = run_cli(["evaluate", tmp_path / "missing"], capsys)
    assert "does not exist" in assert_one_error_line(rc, err, "linnet evaluate: error: ")
    rc, _, err = run_cli(["evaluate", tmp_path], capsys)
    assert "not a linnet run directory" in assert_one_error_line(rc, err, "linnet evaluate: error: ")


def test_cuda_without_a_gpu_is_one_clear_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc, _, err = run_cli(["train", "--dataset", "digits", "--device", "cuda", "--runs-dir", tmp_path], capsys)
    assert "torch sees no GPU" in assert_one_error_line(rc, err, "linnet train: error: ")
    assert list(tmp_path.iterdir()) == []


def test_the_first_line_comes_before_torch_is_imported(tmp_path):
    # In a terminal, `linnet train` says what it loads before importing torch (seconds): -X importtime
    # writes a line to stderr as each module is imported, so the order of stderr's lines is the order
    # of events. stderr is a pseudo-terminal (the line is for people watching a terminal).
    import os
    import pty
    import subprocess
    import sys
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "linnet", "train", "--dataset", "digits",
                             "--epochs", "1", "--no-plots", "--runs-dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    import time
    chunks = list(pty_chunks(master, time.monotonic() + 300))
    os.close(master)
    assert proc.wait(timeout=300) == 0
    lines = b"".join(chunks).decode().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("loading digits ..."))
    # importtime prints a module when its import ends: the first torch line comes after torch's import began
    torch_at = next(i for i, line in enumerate(lines) if re.search(r"^import time:.*\|\s+torch(\.|\s*$)", line))
    assert first < torch_at


# -- resume: finish the plan, add epochs, apply or refuse settings ---------------------------------

class StopAt(Callback):
    """Ctrl-C at the start of epoch `epoch` (as a callback of the run)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_start(self, epoch, num_batches):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_a_bare_resume_finishes_the_plan_and_a_finished_run_needs_epochs(tmp_path, capsys, no_plots, monkeypatch):
    import linnet.experiment as experiment
    real = experiment._callbacks
    monkeypatch.setattr(experiment, "_callbacks", lambda *a: real(*a) + [StopAt(2)])
    rc, out, err = run_cli(["train", "--dataset", "digits", "--epochs", 3, "--runs-dir", tmp_path, "--name", "p"],
                           capsys)
    assert rc == 130 and err.startswith(f"linnet train: training stopped after epoch 1 of 3 (Ctrl-C); {tmp_path / 'p'}")
    monkeypatch.setattr(experiment, "_callbacks", real)
    rc, out, err = run_cli(["train", "--resume", tmp_path / "p"], capsys)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "resuming at epoch 1, training to 3"
    assert [line[:9] for line in lines[1:3]] == ["epoch 2/3", "epoch 3/3"] and "(3 epochs, " in lines[3]
    rc, _, err = run_cli(["train", "--resume", tmp_path / "p"], capsys)
    assert "p is complete (3 of 3 epochs); add more with --epochs N" in assert_one_error_line(rc, err)
    rc, out, err = run_cli(["train", "--resume", tmp_path / "p", "--epochs", 1], capsys)
    assert rc == 0 and out.splitlines()[0] == "resuming at epoch 3, training to 4", err
    assert read_json(tmp_path / "p" / "summary.json")["epochs"] == 4


def test_resume_refuses_settings_it_cannot_apply_naming_the_flags(tmp_path, capsys, no_plots):
    assert run_cli(["train", "--dataset", "digits", "--epochs", 1, "--runs-dir", tmp_path, "--name", "r",
                    "--impl", "scratch", "--quiet"], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}
    rc, out, err = run_cli(["train", "--resume", tmp_path / "r", "--lr", 0.5, "--batch-size", 8, "--impl", "fast"],
                           capsys)
    line = assert_one_error_line(rc, err, "linnet train: error: ")
    assert "The settings 'impl' (--impl), 'batch_size' (--batch-size) cannot change on --resume: the run trained " \
           "with 'scratch', 16, got 'fast', 8." in line                                 # --impl fast: typed, not default
    assert out == "" and {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == before
    rc, out, err = run_cli(["train", "--resume", tmp_path / "r", "--lr", 0.5, "--epochs", 2, "--impl", "scratch",
                            "--batch-size", 16, "--quiet"], capsys)                     # the run's own values: accepted
    assert rc == 0, err
    assert [float(r["lr"]) for r in metrics_rows(tmp_path / "r")] == [0.1, 0.5, 0.5]
    change = read_json(tmp_path / "r" / "config.json")["plan"]["changes"][-1]
    assert change["after_epoch"] == 1 and change["set"] == {"lr": 0.5, "epochs": 3}


def test_one_epoch_is_singular_and_short_epochs_show_ms(tmp_path, capsys, no_plots):
    rc, out, err = run_cli(["train", "--dataset", "digits", "--epochs", 1, "--runs-dir", tmp_path, "--name", "one"],
                           capsys)
    assert rc == 0, err
    final = next(line for line in out.splitlines() if line.startswith("final:"))
    assert re.search(r"\(1 epoch, (\d+(\.\d)? ms|\d+\.\d\d s)\)$", final), final
    assert not re.search(r"\b0\.00 s", out), out

