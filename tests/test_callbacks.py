import io
import sys
import types

import pytest
import torch
from helpers_train import is_png, metrics_rows, read_json, tiny_split

from linnet.callbacks import ConsoleProgress, LivePlot, RunRecorder, format_record, in_notebook
from linnet.data.loader import Loader
from linnet.models import build_model
from linnet.runs import RunDir
from linnet.train import EpochRecord, fit


def tiny_fit(epochs, callbacks):
    model = build_model("softmax", "fast", 16, 4, generator=torch.Generator().manual_seed(0))
    train_iter = Loader(tiny_split(32), 8, shuffle=True, seed=0)
    test_iter = Loader(tiny_split(16, seed=1), 16)
    return model, fit(model, train_iter, test_iter, epochs, lr=0.5, callbacks=callbacks)


class FakeHandle:
    def __init__(self):
        self.updates = []

    def update(self, obj):
        self.updates.append(obj)


@pytest.fixture
def fake_display(monkeypatch):
    calls = []
    handle = FakeHandle()

    def display(obj, display_id=None, **kwargs):
        calls.append((obj, display_id))
        return handle

    # IPython is not a dependency of linnet (only a notebook has it): stand in for it whether
    # or not it is installed, so the test sees exactly the calls LivePlot makes
    ipython = types.ModuleType("IPython")
    ipython.version_info = (9, 0, 0)   # matplotlib reads it when it makes a canvas
    ipython.get_ipython = lambda: type("ZMQInteractiveShell", (), {})()   # a Jupyter kernel
    ipython.display = types.ModuleType("IPython.display")
    ipython.display.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython.display)
    return calls, handle


def test_liveplot_displays_once_then_updates_in_place(fake_display):
    calls, handle = fake_display
    live = LivePlot()
    tiny_fit(3, [live])
    assert len(calls) == 1                       # one output area for the whole run
    shown, display_id = calls[0]
    assert display_id is True
    assert len(handle.updates) == 2              # epochs 2 and 3 redraw it in place
    images = [shown, *handle.updates]
    assert all(img._repr_png_().startswith(b"\x89PNG\r\n\x1a\n") for img in images)   # shown as PNG by IPython
    # each update is a new drawing of the whole history so far
    assert len({img._repr_png_() for img in images}) == 3
    assert live.view.handle is handle


def test_liveplot_outside_jupyter_writes_a_png_says_where_once_and_prints_each_epoch(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setitem(sys.modules, "IPython.display", None)      # importing IPython would fail: it is never needed
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    _, history = tiny_fit(3, [LivePlot(out=out)])
    lines = out.getvalue().splitlines()
    assert lines[0] == f"LivePlot: drawing to {tmp_path / 'liveplot.png'} (kept up to date; in Jupyter the figure shows in place)"
    assert lines[1:] == [format_record(r) for r in history]
    assert lines[1].startswith("epoch 1  train loss ")
    assert is_png(tmp_path / "liveplot.png")


def test_liveplot_path_is_where_the_png_goes(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    out = io.StringIO()
    (tmp_path / "curves").mkdir()
    tiny_fit(1, [LivePlot(tmp_path / "curves" / "live.png", out=out)])
    assert is_png(tmp_path / "curves" / "live.png")
    assert str(tmp_path / "curves" / "live.png") in out.getvalue().splitlines()[0]


def test_in_notebook_is_false_outside_jupyter(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert in_notebook() is False


@pytest.mark.parametrize("shell, expected", [("ZMQInteractiveShell", True), ("TerminalInteractiveShell", False),
                                             (None, False)])
def test_in_notebook_recognises_a_jupyter_kernel(monkeypatch, shell, expected):
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: None if shell is None else type(shell, (), {})()
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert in_notebook() is expected


def test_console_progress_prints_one_line_per_epoch():
    out = io.StringIO()
    tiny_fit(3, [ConsoleProgress(3, out=out)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    for e, line in enumerate(lines, start=1):
        assert line.startswith(f"epoch {e}/3  train loss ")
        assert "train acc" in line and "test acc" in line and "lr 0.5" in line


def test_format_record_for_classification_and_regression():
    r = EpochRecord(7, 0.05, 0.123456, 0.9, 0.2, 0.875, 1.5)
    assert format_record(r, 10) == "epoch  7/10  train loss 0.1235  train acc 0.900  test acc 0.875  lr 0.05  1.50 s"
    lin = EpochRecord(1, 0.03, 0.04, None, 5e-5, None, 0.01)
    assert format_record(lin, 3) == "epoch 1/3  train loss 0.0400  test loss 5.000e-05  lr 0.03  10 ms"
    assert format_record(lin) == "epoch 1  train loss 0.0400  test loss 5.000e-05  lr 0.03  10 ms"   # total unknown


def test_format_record_keeps_huge_losses_and_short_epochs_readable():
    r = EpochRecord(2, 10.0, 1.234e30, 0.1, 7.5e29, 0.1, 0.0042)
    assert format_record(r, 2) == "epoch 2/2  train loss 1.234e+30  train acc 0.100  test acc 0.100  lr 10  4.2 ms"


def test_run_recorder_writes_checkpoint_metrics_summary_every_epoch_and_curves_by_the_end(tmp_path):
    run = RunDir.create(tmp_path, "rec")
    seen = []

    class Probe:   # runs after the recorder: the files already describe the epoch just ended
        def on_epoch_start(self, *a): ...
        def on_batch_end(self, *a): ...
        def on_fit_end(self, *a): ...

        def on_epoch_end(self, record, model, history):
            state, saved, meta = run.load_checkpoint()
            assert saved == history and meta == {"impl": "fast", "rng_state": meta["rng_state"]}
            assert torch.equal(state["W"], model.state_dict()["W"])
            assert len(metrics_rows(run.path)) == record.epoch
            assert read_json(run.path / "summary.json") == {"epochs": record.epoch}
            seen.append(record.epoch)

    recorder = RunRecorder(run, {"impl": "fast"}, lambda h: {"epochs": len(h)})
    tiny_fit(3, [recorder, Probe()])
    assert seen == [1, 2, 3]
    assert is_png(run.path / "curves.png")              # drawn, at the latest, when fit ends
    assert not any(p.name.endswith(".tmp") for p in run.path.iterdir())


def test_run_recorder_redraws_curves_at_most_every_min_interval(tmp_path):
    drawn_during = {}

    class Probe:
        def __init__(self, run):
            self.run = run

        def on_epoch_start(self, *a): ...
        def on_batch_end(self, *a): ...
        def on_fit_end(self, *a): ...

        def on_epoch_end(self, record, model, history):
            path = self.run.path / "curves.png"
            drawn_during[(self.run.path.name, record.epoch)] = path.exists() and path.stat().st_mtime_ns

    every = RunDir.create(tmp_path, "every")
    tiny_fit(2, [RunRecorder(every, {}, lambda h: {}, min_interval=0.0), Probe(every)])
    assert drawn_during[("every", 1)] and drawn_during[("every", 2)]         # redrawn after each epoch
    assert drawn_during[("every", 1)] <= drawn_during[("every", 2)]

    rarely = RunDir.create(tmp_path, "rarely")
    tiny_fit(2, [RunRecorder(rarely, {}, lambda h: {}, min_interval=3600.0), Probe(rarely)])
    assert not drawn_during[("rarely", 1)] and not drawn_during[("rarely", 2)]  # throttled...
    assert is_png(rarely.path / "curves.png")                                 # ...but drawn when fit ends

    default = RunDir.create(tmp_path, "default")                              # a short run: drawn once, at the end
    tiny_fit(2, [RunRecorder(default, {}, lambda h: {}), Probe(default)])
    assert not drawn_during[("default", 1)] and not drawn_during[("default", 2)]
    assert is_png(default.path / "curves.png")

    never = RunDir.create(tmp_path, "never")                                  # --no-plots
    tiny_fit(2, [RunRecorder(never, {}, lambda h: {}, min_interval=None)])
    later = RunDir.create(tmp_path, "later")                                  # the caller draws it (experiment)
    tiny_fit(2, [RunRecorder(later, {}, lambda h: {}, draw_at_end=False)])
    assert not (never.path / "curves.png").exists() and not (later.path / "curves.png").exists()


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_console_progress_shows_a_solver_status_line_and_clears_it(monkeypatch):
    import linnet.callbacks as callbacks
    clock = iter([0.0, 0.1, 0.7, 0.8, 1.5])
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: next(clock))
    out, err = io.StringIO(), FakeTerminal()
    progress = ConsoleProgress(1, out=out, err=err)
    for i, loss in enumerate([2.3, 1.2, 0.5, 0.4, 0.3e-6]):
        progress.on_solver_step(i, loss)
    # drawn at t = 0 (iteration 0), 0.7 (2) and 1.5 (4): every 0.5 s at most
    assert err.getvalue().split("\r")[1:] == ["L-BFGS  iteration 0  loss 2.3000  0.0 ms",
                                              "L-BFGS  iteration 2  loss 0.5000  700 ms",
                                              "L-BFGS  iteration 4  loss 3.000e-07  1.50 s"]
    progress.on_epoch_end(EpochRecord(1, 1.0, 0.1, 0.9, 0.2, 0.8, 1.6), None, [])
    assert err.getvalue().endswith("\r" + " " * len("L-BFGS  iteration 4  loss 3.000e-07  1.50 s") + "\r")
    assert out.getvalue() == "L-BFGS  train loss 0.1000  train acc 0.900  test acc 0.800  1.60 s\n"   # no epoch, no lr


def test_console_progress_draws_no_solver_status_off_a_terminal():
    err = io.StringIO()
    progress = ConsoleProgress(1, out=io.StringIO(), err=err)
    progress.on_solver_step(1, 0.5)
    progress.on_fit_end([], None)
    assert err.getvalue() == ""


def test_console_progress_erases_the_bar_line_when_fit_stops_on_a_terminal(monkeypatch):
    err = FakeTerminal()
    progress = ConsoleProgress(3, out=io.StringIO(), err=err)
    progress.on_epoch_start(2, 100)
    progress.bar = None                  # as when Ctrl-C lands inside tqdm, before the bar is assigned
    progress.on_fit_end([], None)
    assert err.getvalue().endswith("\r\x1b[K")
    off = io.StringIO()
    quiet = ConsoleProgress(3, out=io.StringIO(), err=off)
    quiet.on_epoch_start(2, 100)
    quiet.on_fit_end([], None)
    assert "\x1b[K" not in off.getvalue()                                         # not a terminal: no escape codes
