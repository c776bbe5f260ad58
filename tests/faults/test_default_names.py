"""Fault: four `linnet train` processes without --name start in the same second.

Expected: all four succeed, each in its own run directory: the default name <model>-<dataset>-<time>
gets -2, -3, -4 when taken, claimed with an atomic mkdir (no two processes share one). An explicit
--name still refuses a taken directory (test_concurrent_runs.py).
"""
from __future__ import annotations

from fault_tools import finish, spawn
from helpers_train import read_json, write_idx_dataset

# every process sees the same second: the collision is certain, not left to the scheduler
SAME_SECOND = """
import sys, time
real = time.strftime
time.strftime = lambda fmt, *a: "20260101-000000" if fmt == "%Y%m%d-%H%M%S" else real(fmt, *a)
from linnet.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_four_runs_in_the_same_second_all_get_their_own_directory(tmp_path):
    data = tmp_path / "data"
    write_idx_dataset(data, n_train=60, n_test=20)
    argv = ["train", "--dataset", "fashion-mnist", "--data-dir", data, "--epochs", 1, "--no-plots", "--quiet",
            "--device", "cpu", "--runs-dir", tmp_path / "runs"]
    procs = [spawn(argv, script=SAME_SECOND) for _ in range(4)]
    results = [finish(p, timeout=90) for p in procs]
    assert [rc for rc, _, _ in results] == [0, 0, 0, 0], [err for _, _, err in results]
    base = "softmax-fashion-mnist-20260101-000000"
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert names == sorted([base, f"{base}-2", f"{base}-3", f"{base}-4"])
    said = sorted(line.split("run directory: ", 1)[1] for _, out, _ in results for line in out.splitlines()
                  if line.startswith("run directory: "))
    assert said == sorted(str(tmp_path / "runs" / n) for n in names)           # each process names its own
    for n in names:
        assert read_json(tmp_path / "runs" / n / "summary.json")["epochs"] == 1
