"""Cost per epoch against the epoch number: `linnet train` on a tiny set for 1000 and 10 000 epochs.

Every epoch is checkpointed (weights, RNG state, metrics.csv row, summary.json). Before metrics.csv
was made append-only (linnet.metricslog) the checkpoint carried the whole history and metrics.csv
was rewritten each epoch, so epoch k cost O(k) and a run O(n^2). The figure that shows it is the ratio of the two
runs' wall times: 10 for a cost linear in the epochs, 100 for a quadratic one. Each row is one
`python -m linnet train` process (import and start-up included, the same for both rows).

    .venv/bin/python benchmarks/bench_epochs.py                 # this tree: 1000 and 10 000 epochs
    .venv/bin/python benchmarks/bench_epochs.py --src OLD/src --epochs 500 1000 2000   # another tree
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import make_data  # noqa: E402


def time_run(src: Path, data: Path, runs: Path, epochs: int) -> float:
    """Wall seconds of one whole `linnet train` process: 100 training and 20 test images, one step an epoch."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = [sys.executable, "-m", "linnet", "train", "--dataset", "fashion-mnist", "--data-dir", str(data),
            "--epochs", str(epochs), "--batch-size", "100", "--device", "cpu", "--no-plots", "--quiet",
            "--runs-dir", str(runs), "--name", f"e{epochs}"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=HERE.parent / "src", help="the linnet source tree to time")
    parser.add_argument("--epochs", type=int, nargs="+", default=[1000, 10_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp) / "data", n_train=100, n_test=20)
        print(f"source: {args.src}   load average: {os.getloadavg()[0]:.1f}")
        print(f"{'epochs':>7}  {'seconds':>8}  {'ms/epoch':>8}  ratio to the first row (linear: epochs ratio)")
        first = None
        for epochs in args.epochs:
            seconds = time_run(args.src, data, Path(tmp) / "runs", epochs)
            first = first or (epochs, seconds)
            print(f"{epochs:>7}  {seconds:>8.1f}  {1000 * seconds / epochs:>8.2f}  "
                  f"x{seconds / first[1]:.1f} for x{epochs / first[0]:g} the epochs", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
