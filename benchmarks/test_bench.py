"""Seconds-long checks of the benchmark's pieces (run: .venv/bin/python -m pytest benchmarks/test_bench.py).

The reference rows must be what they claim: the textbook recipe's items are ToTensor's output, the
textbook and plain loops learn, a worker's memory is its own, and the ratios pick the right rows.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import make_data, peak_rss_mb  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: on a shared 2-core machine two threads measured 30x slower for these tiny steps."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """1200/300 generated 28x28 images as linnet loads them: (N, 28, 28) uint8, (N,) int64."""
    import linnet
    d = make_data(tmp_path_factory.mktemp("data"), n_train=1200, n_test=300)
    ds = linnet.load_dataset("fashion-mnist", d, download=False)
    return d, (ds.train.images, ds.train.labels, ds.test.images, ds.test.labels)


def test_item_is_totensor_output(tiny):
    from textbook import ItemDataset
    _, (images, labels, _, _) = tiny
    ds = ItemDataset(images, labels)
    x, y = ds[7]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x, images[7].unsqueeze(0).float().div(255))   # ToTensor: uint8 (H, W) -> (1, H, W) / 255
    assert isinstance(y, int) and y == int(labels[7])
    assert len(ds) == len(labels)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")   # the book's float(l.sum())
@pytest.mark.parametrize("runner", ["textbook", "plain"])
def test_reference_loops_learn(tiny, runner):
    """Batch 32 (the benchmark: 256) so that 1200 images give enough steps in 3 epochs."""
    _, data = tiny
    if runner == "textbook":
        from textbook import run_chapter
        history = run_chapter(*data, workers=0, num_epochs=3, batch_size=32)
        accs = [h[2] for h in history]
        assert history[-1][0] < history[0][0]            # train loss falls
    else:
        from plain_torch import build, run_plain
        accs = run_plain(*build(), *data, num_epochs=3, batch_size=32)
    assert len(accs) == 3
    assert accs[-1] > 0.5                                  # 10 classes: chance is 0.1


def test_worker_peak_is_its_own():
    """A parent that once held 256 MB: the child's ru_maxrss inherits it on Linux, its VmHWM must not."""
    ballast = bytearray(256 * 2**20)
    ballast[::4096] = b"\1" * len(ballast[::4096])          # touch every page
    del ballast
    assert peak_rss_mb() > 256
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); from common import peak_rss_mb; print(peak_rss_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0 < child < 128


def test_sklearn_sgd_row(tiny):
    from sklearn_rows import sgd_row
    d, _ = tiny
    row = sgd_row(str(d), epochs=2, batch_size=32, n_jobs=1)
    assert row["seconds"] > 0 and row["test_acc"] > 0.5


def test_report_ratios_use_the_faster_textbook_row(capsys):
    from report import print_report
    rows = [{"variant": "textbook-4w", "seconds": 8.0, "test_acc": 0.8},
            {"variant": "textbook-0w", "seconds": 6.0, "test_acc": 0.8},
            {"variant": "torch-plain", "error": "boom"},
            {"variant": "linnet-fast", "seconds": 0.5, "test_acc": 0.81}]
    for r in rows:
        if "error" not in r:
            r.update(peak_rss_mb=100.0, ru_maxrss_mb=100.0)
    facts = {"data_dir": "d", "epochs": 1, "load_start": (0, 0, 0), "load_end": (0, 0, 0), "wall": 1.0,
             "parent_peak_mb": 1.0, "parent_ru_maxrss_mb": 1.0}
    print_report(rows, facts)
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"speedup_vs_textbook_best={6.0 / 0.5:.1f}"
    assert any(line.startswith("plain PyTorch loop") and "error: boom" in line for line in out)


def test_process_row_peak_survives_os_exit():
    """`linnet` leaves by os._exit: the wrapper must still write the process's own peak."""
    from bench_train import run_process, thread_env
    seconds, peak, out = run_process(["--help"], thread_env(None))
    assert out.returncode == 0 and "train" in out.stdout
    assert seconds > 0 and 5 < peak < 2000      # MB: a Python process, not nan (no file written)


@pytest.mark.parametrize("policy, threads", [("before", "{} (--threads)"), ("after", "measured: 1 or {}")])
def test_thread_rows_run_the_policy_they_name(policy, threads, monkeypatch):
    """bench_threads.py's before row fixes torch's count as it found it, its after row leaves linnet to measure."""
    from bench_threads import worker
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    row = worker("concise", policy, "digits", 1)
    assert row["threads"] == threads.format(torch.get_num_threads()) and row["seconds"] > 0 and row["test_acc"] > 0.5


def test_targets_take_the_best_row_and_say_not_met_when_it_is_over(capsys):
    from report import _print_targets
    rows = [{"variant": "linnet train (process)", "seconds": 3.8, "best_train_seconds": 0.29},
            {"variant": "linnet train --no-plots (process)", "seconds": 3.0, "best_train_seconds": 0.5},
            {"variant": "linnet-fast", "seconds": 0.31}, {"variant": "linnet --help", "seconds": 0.2},
            {"variant": "python: import torch", "seconds": 2.5}, {"variant": "linnet-lbfgs", "error": "x"}]
    _print_targets(rows)
    out = capsys.readouterr().out.splitlines()
    assert out == ["target: train_seconds of linnet train <= 0.3 s: 0.290 s, met",
                   "target: fit of linnet fast in the process <= 0.3 s: 0.310 s, NOT met",
                   "target: whole linnet train process <= 1.5 s: 3.800 s, NOT met (`import torch` alone took 2.50 s in this run)",
                   "target: linnet --help <= 0.2 s: 0.200 s, met"]
