"""The Python API of a whole run: linnet.experiment.train / resume, linnet.restore.load_run."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers_train import checkpoint_state, metrics_rows, no_plots, read_json, run_cli  # noqa: F401

from linnet.config import TrainConfig
from linnet.data.loader import Loader
from linnet.errors import ConfigError
from linnet.experiment import RunInterrupted, RunResult, resume, train
from linnet.restore import load_run, resolve_device
from linnet.runs import LOCK, RunBusy
from linnet.train import Callback, predict

SRC = str(Path(__file__).resolve().parents[1] / "src")


def cfg(tmp_path, name, **kw):
    return TrainConfig(dataset="digits", runs_dir=str(tmp_path), name=name, **{"epochs": 2, **kw})


def test_train_returns_the_run_and_writes_its_directory(tmp_path, no_plots, capsys):
    result = train(cfg(tmp_path, "api"))
    assert isinstance(result, RunResult)
    assert result.run_dir == tmp_path / "api"
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.summary == read_json(tmp_path / "api" / "summary.json")
    assert result.summary["test_acc"] == result.history[-1].test_acc
    assert result.dataset.name == "digits"
    out = capsys.readouterr().out
    assert [line[:10] for line in out.splitlines()] == ["epoch 1/2 ", "epoch 2/2 "]
    for name in ("W", "b"):
        assert torch.equal(checkpoint_state(result.run_dir)[name], result.model.state_dict()[name])
    assert not (result.run_dir / LOCK).exists()


def test_train_without_a_name_makes_one(tmp_path, no_plots):
    result = train(TrainConfig(dataset="digits", epochs=1, runs_dir=str(tmp_path)), quiet=True)
    assert result.run_dir.parent == tmp_path and result.run_dir.name.startswith("softmax-digits-")


def test_default_names_started_in_the_same_second_do_not_collide(tmp_path, no_plots, monkeypatch):
    import time
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20260101-000000" if fmt == "%Y%m%d-%H%M%S" else "t")
    names = [train(TrainConfig(dataset="digits", epochs=1, runs_dir=str(tmp_path)), quiet=True).run_dir.name
             for _ in range(3)]
    assert names == ["softmax-digits-20260101-000000", "softmax-digits-20260101-000000-2",
                     "softmax-digits-20260101-000000-3"]


def test_load_run_gives_back_the_trained_model(tmp_path, no_plots):
    result = train(cfg(tmp_path, "api"), quiet=True)
    loaded = load_run(result.run_dir)
    assert loaded.config == cfg(tmp_path, "api")
    assert loaded.classes == tuple("0123456789") and loaded.input_hw == (8, 8)
    assert loaded.history == result.history
    X, _ = next(iter(Loader(result.dataset.test, 100)))
    assert torch.equal(predict(loaded.model, X), predict(result.model, X))


def test_resume_continues_the_count_and_the_summary(tmp_path, no_plots):
    first = train(cfg(tmp_path, "r"), quiet=True)
    more = resume(first.run_dir, epochs=3, quiet=True)
    assert more.run_dir == first.run_dir
    assert [r.epoch for r in more.history] == [1, 2, 3, 4, 5]
    assert more.history[:2] == first.history
    assert more.summary["epochs"] == 5
    assert more.summary["train_seconds"] == pytest.approx(sum(r.seconds for r in more.history), abs=1e-3)
    assert len(metrics_rows(first.run_dir)) == 5
    assert read_json(first.run_dir / "config.json")["plan"]["epochs"] == 5      # the plan grew with the epochs added
    with pytest.raises(ConfigError, match=r"r is complete \(5 of 5 epochs\); add more with --epochs N"):
        resume(first.run_dir, quiet=True)               # default: finish the plan, and it is finished


class InterruptAt(Callback):
    def __init__(self, epoch, step):
        self.epoch, self.step, self.current = epoch, step, 0

    def on_epoch_start(self, epoch, num_batches):
        self.current = epoch

    def on_batch_end(self, step, loss):
        if (self.current, step) == (self.epoch, self.step):
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_last_complete_epoch_and_resume_is_still_exact(tmp_path, no_plots):
    with pytest.raises(RunInterrupted, match=r"^training stopped after epoch 1 of 3 \(Ctrl-C\); .*stopped keeps its "
                                             r"completed epochs, figures and report\. Continue with: "
                                             r"linnet train --resume .*stopped$") as info:
        train(cfg(tmp_path, "stopped", epochs=3), callbacks=[InterruptAt(2, 10)], quiet=True)
    assert info.value.completed == 1 and info.value.signal_name == "KeyboardInterrupt"
    run_dir = tmp_path / "stopped"
    assert not (run_dir / LOCK).exists()
    assert len(metrics_rows(run_dir)) == 1
    # the epoch it completed has its summary, figures and report
    assert read_json(run_dir / "summary.json")["epochs"] == 1
    assert {p.name for p in run_dir.glob("*.png")} == {"curves.png", "predictions.png", "confusion.png", "weights.png"}
    assert (run_dir / "report.html").is_file()
    resumed = resume(run_dir, quiet=True)                                       # bare: finishes the plan of 3
    straight = train(cfg(tmp_path, "straight", epochs=3), quiet=True)
    for name in ("W", "b"):
        assert torch.equal(resumed.model.state_dict()[name], straight.model.state_dict()[name])
    assert resumed.summary["epochs"] == 3


def test_interrupt_before_the_first_epoch_completes(tmp_path, no_plots):
    with pytest.raises(RunInterrupted, match=r"^training stopped before epoch 1 of 2 was complete \(Ctrl-C\)") as info:
        train(cfg(tmp_path, "early"), callbacks=[InterruptAt(1, 1)], quiet=True)
    assert info.value.completed == 0 and not (tmp_path / "early" / "report.html").exists()
    assert len(resume(tmp_path / "early", epochs=1, quiet=True).history) == 1


def test_resume_refuses_a_run_another_live_process_holds(tmp_path, no_plots, capsys):
    train(cfg(tmp_path, "busy", epochs=1), quiet=True)
    holds = ("import sys; from pathlib import Path; from linnet.runlock import acquire; acquire(Path(sys.argv[1]));"
             " print('locked', flush=True); sys.stdin.read()")   # a live process holding the run's OS lock
    other = subprocess.Popen([sys.executable, "-c", holds, str(tmp_path / "busy")], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": SRC})
    try:
        assert other.stdout.readline().strip() == "locked"
        before = (tmp_path / "busy" / "checkpoint.safetensors").read_bytes()
        with pytest.raises(RunBusy, match=rf"in use by another linnet process \(pid {other.pid}\)"):
            resume(tmp_path / "busy", epochs=1, quiet=True)
        rc, _, err = run_cli(["train", "--resume", tmp_path / "busy", "--epochs", 1], capsys)
        assert rc == 2 and err.startswith("linnet train: error: ") and len(err.strip().splitlines()) == 1
        assert (tmp_path / "busy" / "checkpoint.safetensors").read_bytes() == before
        assert (tmp_path / "busy" / LOCK).read_text() == str(other.pid)
    finally:
        other.kill()
        other.communicate(timeout=10)


def test_train_refuses_an_existing_run_without_touching_it(tmp_path, no_plots):
    first = train(cfg(tmp_path, "once", epochs=1), quiet=True)
    before = {p.name: p.read_bytes() for p in first.run_dir.iterdir()}
    with pytest.raises(ConfigError, match=r"already exists; resume it with --resume"):
        train(cfg(tmp_path, "once", epochs=1), quiet=True)
    assert {p.name: p.read_bytes() for p in first.run_dir.iterdir()} == before


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match=r"The 'device' cuda was asked for, but torch sees no GPU"):
        resolve_device("cuda")


@pytest.mark.parametrize("kw, match", [
    (dict(lr=0.0), r"The 'lr' parameter must be a float in \(0, inf\)\. Got 0\.0\."),
    (dict(lr=-0.1), r"The 'lr' parameter must be a float in \(0, inf\)\. Got -0\.1\."),
    (dict(batch_size=0), r"The 'batch_size' parameter must be an int >= 1\. Got 0\."),
    (dict(epochs=0), r"The 'epochs' parameter must be an int >= 1\. Got 0\."),
    (dict(dataset="nope"), r"The 'dataset' parameter must be one of .*Got 'nope'\."),
    (dict(model="linear", dataset="digits"), r"does not fit the dataset 'digits'"),
    (dict(solver="lbfgs", model="linear"), r"lbfgs is for softmax regression"),
    (dict(name="a/b"), r"The 'name' parameter must be a plain directory name"),
])
def test_train_config_validation(kw, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kw)


def test_train_config_dataset_defaults():
    assert TrainConfig().resolved("dataset") == "fashion-mnist"
    assert TrainConfig(model="linear").resolved("dataset") == "synthetic"
    c = TrainConfig(dataset="digits")
    assert (c.resolved("batch_size"), c.resolved("epochs"), c.resolved("lr")) == (16, 20, 0.1)
    lin = TrainConfig(model="linear")
    assert (lin.resolved("batch_size"), lin.resolved("epochs"), lin.resolved("lr")) == (10, 3, 0.03)
    assert TrainConfig(dataset="digits", batch_size=64).resolved("batch_size") == 64
    assert TrainConfig().lr_schedule == "constant"
    assert TrainConfig(lr_decay=0.9).lr_schedule == "exponential"
    assert TrainConfig(lr_decay=0.9, lr_step=3).lr_schedule == "step"


class Events(Callback):
    def __init__(self):
        self.events = []

    def on_epoch_end(self, record, model, history):
        self.events.append(("epoch_end", record.epoch, len(history)))

    def on_fit_end(self, history, model):
        self.events.append(("fit_end", len(history)))


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_callbacks_of_a_run_see_every_epoch_then_the_end(tmp_path, no_plots, solver):
    events = Events()
    result = train(cfg(tmp_path, solver, solver=solver), callbacks=[events], quiet=True)
    n = len(result.history)
    assert n == (2 if solver == "sgd" else 1)
    assert events.events == [("epoch_end", e, e) for e in range(1, n + 1)] + [("fit_end", n)]


def test_train_config_accepts_the_closed_ends_of_its_intervals():
    cfg = TrainConfig(dataset="digits", lr_decay=1.0, weight_decay=0.0)   # gamma 1: no decay; no L2
    assert cfg.lr_schedule == "exponential" and cfg.lr_decay == 1.0


def test_the_result_is_announced_before_any_figure_is_drawn(tmp_path, no_plots):
    seen = {}

    def announce(summary, run_dir):
        seen["summary"], seen["pngs"] = summary, sorted(p.name for p in run_dir.glob("*.png"))

    result = train(cfg(tmp_path, "order"), quiet=True, announce=announce)
    assert seen["summary"] == result.summary and seen["pngs"] == []         # nothing drawn yet...
    assert {p.name for p in result.run_dir.glob("*.png")} == {"curves.png", "predictions.png", "confusion.png",
                                                               "weights.png"}   # ...all of it after


def test_no_plots_draws_nothing_and_still_writes_the_report(tmp_path):
    result = train(cfg(tmp_path, "sweep", plots=False), quiet=True)
    assert list(result.run_dir.glob("*.png")) == []
    assert read_json(result.run_dir / "config.json")["settings"]["plots"] is False
    report = (result.run_dir / "report.html").read_text()
    assert "<img" not in report and str(result.summary["epochs"]) in report
    resume(result.run_dir, epochs=1, quiet=True)                                # the setting is kept on resume
    assert list(result.run_dir.glob("*.png")) == []


def test_nothing_is_imported_in_the_background_while_training(tmp_path):
    # matplotlib used to be imported on a thread during training, taking CPU from the loop
    script = f"""
import sys, threading
import linnet
from linnet.train import Callback
class Probe(Callback):
    def on_epoch_end(self, record, model, history):
        assert threading.active_count() == 1, threading.enumerate()
        assert 'matplotlib' not in sys.modules, 'matplotlib imported during training'
linnet.start_run(linnet.TrainConfig(dataset='digits', epochs=2, runs_dir={str(tmp_path)!r}, name='bg'),
                 callbacks=[Probe()], quiet=True)
print('figures after:', 'matplotlib' in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "figures after: True"


# -- figures and records of a run (issue 14) ------------------------------------------------------

def test_predictions_show_every_class_of_a_class_sorted_test_file(tmp_path, monkeypatch):
    import numpy as np
    from helpers_train import IDX_NAMES, stripes_arrays

    import linnet.plots as plots
    import linnet.runfigures as runfigures
    from linnet.data.idx import write_idx
    arrays = stripes_arrays(200, 100)
    order = np.argsort(arrays["test_labels"], kind="stable")            # a test file sorted by class
    arrays["test_images"], arrays["test_labels"] = arrays["test_images"][order], arrays["test_labels"][order]
    (tmp_path / "data").mkdir()
    for role, name in IDX_NAMES.items():
        write_idx(tmp_path / "data" / name, arrays[role], compress=True)
    shown = {}
    real = plots.plot_predictions
    monkeypatch.setattr(plots, "plot_predictions", lambda X, true, pred, **kw: shown.update(true=true, **kw) or real(X, true, pred, **kw))
    monkeypatch.setattr(runfigures, "figure_processes", lambda: 1)   # drawn in this process, where `shown` is
    train(TrainConfig(dataset="fashion-mnist", data_dir=str(tmp_path / "data"), epochs=1, batch_size=32,
                      runs_dir=str(tmp_path / "runs"), name="sorted"), quiet=True)
    counts = {c: shown["true"].count(c) for c in set(shown["true"])}
    assert len(shown["true"]) == 18 and len(counts) == len(set(arrays["test_labels"].tolist()))   # every class
    assert max(counts.values()) - min(counts.values()) <= 1
    assert shown["title"] == "Predictions on test images: sorted (fashion-mnist)"


def test_config_json_records_the_command_line(tmp_path, no_plots, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/x/bin/linnet", "train", "--dataset", "digits"])
    result = train(cfg(tmp_path, "argv", epochs=1), quiet=True)
    assert read_json(result.run_dir / "config.json")["argv"] == ["/x/bin/linnet", "train", "--dataset", "digits"]


def test_quiet_in_a_notebook_draws_and_prints_nothing(tmp_path, no_plots, monkeypatch, capsys):
    import linnet.experiment as experiment
    monkeypatch.setattr(experiment, "in_notebook", lambda: True)
    monkeypatch.chdir(tmp_path)
    shown = []
    monkeypatch.setattr("linnet.callbacks.LivePlot.on_epoch_end", lambda self, *a: shown.append(a))
    train(cfg(tmp_path, "quiet", epochs=1), quiet=True)
    assert shown == [] and capsys.readouterr() == ("", "")
    train(cfg(tmp_path, "loud", epochs=1))
    assert len(shown) == 1                                              # not quiet: the live curves are drawn


def _direct(run_dir, epochs, lr, weight_decay, lr_start):
    """The resume's arithmetic done by hand: the run's model and loaders, fit() from its last epoch."""
    from linnet.experiment import load_for, loaders_for
    from linnet.train import fit
    loaded = load_run(run_dir)
    train_iter, test_iter = loaders_for(loaded.config, load_for(loaded.config))
    done = len(loaded.history)
    fit(loaded.model, train_iter, test_iter, epochs, lr, weight_decay=weight_decay, start_epoch=done,
        history=loaded.history, lr_start=lr_start)
    return loaded.model.state_dict()


def test_resume_with_a_new_lr_and_weight_decay_applies_them_from_that_epoch(tmp_path, no_plots):
    train(cfg(tmp_path, "same"), quiet=True)
    train(cfg(tmp_path, "changed"), quiet=True)
    expected = _direct(tmp_path / "changed", 2, 0.3, 1e-3, 2)
    resume(tmp_path / "same", epochs=2, quiet=True)
    changed = resume(tmp_path / "changed", epochs=2, lr=0.3, weight_decay=1e-3, quiet=True)
    for name in ("W", "b"):
        assert torch.equal(changed.model.state_dict()[name], expected[name]), name
        assert not torch.equal(checkpoint_state(tmp_path / "same")[name], expected[name]), name
    assert [float(r["lr"]) for r in metrics_rows(tmp_path / "changed")] == [0.1, 0.1, 0.3, 0.3]
    config = read_json(tmp_path / "changed" / "config.json")
    (change,) = config["plan"]["changes"]
    assert change["after_epoch"] == 2 and change["set"] == {"lr": 0.3, "weight_decay": 1e-3, "epochs": 4}
    assert config["settings"]["lr"] == 0.3 and config["settings"]["weight_decay"] == 1e-3
    assert read_json(tmp_path / "same" / "config.json")["plan"]["changes"][0]["set"] == {"epochs": 4}


def test_an_lr_decay_set_on_resume_counts_from_that_epoch(tmp_path, no_plots):
    with pytest.raises(RunInterrupted):
        train(cfg(tmp_path, "d", epochs=4, lr=0.2), callbacks=[InterruptAt(3, 1)], quiet=True)
    resumed = resume(tmp_path / "d", lr_decay=0.5, quiet=True)                  # bare: to the plan's 4
    assert [r.lr for r in resumed.history] == [0.2, 0.2, 0.2, 0.1]
    assert read_json(tmp_path / "d" / "config.json")["plan"] == {
        "epochs": 4, "changes": [{"after_epoch": 2, "set": {"lr_decay": 0.5, "lr": 0.2},
                                  "time": read_json(tmp_path / "d" / "config.json")["plan"]["changes"][0]["time"]}]}


def test_resume_refuses_a_setting_that_makes_another_run_and_changes_nothing(tmp_path, no_plots):
    first = train(cfg(tmp_path, "keep"), quiet=True)
    before = {p.name: p.read_bytes() for p in first.run_dir.iterdir()}
    with pytest.raises(ConfigError, match=r"The 'batch_size' setting \(--batch-size\) cannot change on --resume: "
                                          r"the run trained with 16, got 8\."):
        resume(first.run_dir, epochs=1, batch_size=8, quiet=True)
    assert {p.name: p.read_bytes() for p in first.run_dir.iterdir()} == before

