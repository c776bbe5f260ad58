"""A seconds-long check of bench_figures.py's worker: on a tiny run it draws and times every figure.

(run: .venv/bin/python -m pytest benchmarks/test_bench_figures.py)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import make_data  # noqa: E402

FIGURES = ["curves.png", "predictions.png", "confusion.png", "weights.png"]


def test_the_worker_times_every_figure_of_a_run_in_a_fresh_process(tmp_path):
    from linnet.config import TrainConfig
    from linnet.experiment import train
    data = make_data(tmp_path / "data", n_train=600, n_test=200)
    train(TrainConfig(dataset="fashion-mnist", data_dir=str(data), epochs=1, plots=False,
                      runs_dir=str(tmp_path / "runs"), name="tiny"), quiet=True)
    out = subprocess.run([sys.executable, str(HERE / "bench_figures.py"), "--worker", str(tmp_path / "runs" / "tiny"),
                          str(tmp_path / "figures"), "2"], check=True, capture_output=True, text=True, timeout=120)
    seconds = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(seconds) == {"import", "whole phase", "bytes", *FIGURES}
    assert seconds["whole phase"] >= max(seconds[f] for f in FIGURES) > 0
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(FIGURES)
    assert seconds["bytes"] == sum((tmp_path / "figures" / f).stat().st_size for f in FIGURES)
