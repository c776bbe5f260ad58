"""The figure phase of `linnet train`: what a process spends after its final line on curves.png,
predictions.png, confusion.png and weights.png (the report embeds them; `--no-plots` skips them).

    python benchmarks/bench_figures.py [--data-dir DIR] [--runs N]

1. One `linnet train --no-plots` run on 60000/10000 generated 28x28 images (written once to
   benchmarks/.data/fashion-60k, as bench_train.py does) gives a trained run directory.
2. N fresh processes each bring that run back as a `linnet train` process has it when training ends
   (torch imported, the 60k images in memory, the model, the test predictions, the confusion matrix),
   then time linnet.runfigures.draw_final_figures, the very code a run calls: the import of
   matplotlib and linnet's plotting modules, each figure (made and written), and the whole phase.
   Fresh processes, because a run draws its figures once, cold (fonts, first drawings, imports).
3. `linnet train` and `linnet train --no-plots` as whole processes, N of each, in turn (A B A B ...,
   so a drift of the machine's speed touches both): the difference of their medians is what the
   figures cost a user.

Prints min / median / max of every figure (seconds) and the load average before and after: on a
shared machine the spread says how far to trust the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import make_data  # noqa: E402

TIMEOUT_S = 600


def draw_worker(run_dir: str, out_dir: str, processes: int) -> dict:
    """Seconds of the figure phase of the run in run_dir, its figures written to out_dir by `processes`
    processes (this process is fresh: matplotlib not imported yet)."""
    import torch

    from linnet.metrics import confusion_matrix
    from linnet.restore import load_run
    from linnet.rundata import load_for, loaders_for
    from linnet.collector import gc_paused
    from linnet.runfigures import draw_final_figures
    from linnet.train import predict_all
    if "matplotlib" in sys.modules:   # then the import would be missing from the figures
        raise RuntimeError("matplotlib was imported before the figure phase")
    run = load_run(run_dir)
    ds = load_for(run.config, run.stats, download=False)
    preds = predict_all(run.model, loaders_for(run.config, ds)[1], torch.device("cpu"))
    matrix = confusion_matrix(ds.test.labels, preds, len(ds.classes))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    with gc_paused():   # as linnet.experiment does, through the report: the process exits before a collection
        written = draw_final_figures(run.config, Path(out_dir), run.model, ds, run.history, preds, matrix, seconds,
                                     processes)
        seconds["whole phase"] = time.perf_counter() - start
    seconds["bytes"] = sum(p.stat().st_size for p in written)
    return seconds


def linnet(*args: str) -> float:
    """Wall seconds of one `linnet` process (the console script beside this Python)."""
    exe = Path(sys.executable).with_name("linnet")
    start = time.perf_counter()
    subprocess.run([str(exe), *args], check=True, capture_output=True, timeout=TIMEOUT_S)
    return time.perf_counter() - start


def spread(values: list[float]) -> str:
    return f"{min(values):8.3f} {statistics.median(values):8.3f} {max(values):8.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="the four IDX files (default: generated 60000/10000)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement (default 5)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(draw_worker(args.worker[0], args.worker[1], int(args.worker[2]))))
        return
    data_dir = args.data_dir or make_data(HERE / ".data" / "fashion-60k")
    load_start = os.getloadavg()
    train = ["train", "--dataset", "fashion-mnist", "--data-dir", str(data_dir), "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        linnet(*train, "--runs-dir", tmp, "--name", "trained", "--no-plots")
        phases: dict[str, list[float]] = {}
        for i in range(args.runs):   # one process drawing all, then two processes (figure_processes), in turn
            for processes in (1, 2):
                out = subprocess.run([sys.executable, __file__, "--worker", f"{tmp}/trained", f"{tmp}/figures-{i}",
                                      str(processes)], check=True, capture_output=True, text=True, timeout=TIMEOUT_S)
                for key, value in json.loads(out.stdout.strip().splitlines()[-1]).items():
                    phases.setdefault(key if processes == 1 else f"{key}, 2 processes", []).append(value)
        processes: dict[str, list[float]] = {"linnet train": [], "linnet train --no-plots": []}
        for i in range(args.runs):
            processes["linnet train"].append(linnet(*train, "--runs-dir", tmp, "--name", f"plots-{i}"))
            processes["linnet train --no-plots"].append(linnet(*train, "--runs-dir", tmp, "--name", f"no-plots-{i}",
                                                               "--no-plots"))
    load_end = os.getloadavg()
    size = phases.pop("bytes")[0]
    print(f"figure phase of a 60k run, {args.runs} fresh processes each (seconds)  min   median      max")
    for key, values in phases.items():
        if key.endswith(", 2 processes") and key != "whole phase, 2 processes":
            continue   # a figure's seconds while the other process draws: not comparable to the row above
        label = {"import": "import matplotlib, linnet.plots", "whole phase": "whole phase, 1 process"}.get(key, key)
        print(f"  {label:<54} {spread(values)}")
    print(f"  (the four PNG files: {size / 1000:.0f} kB together)")
    print(f"whole processes, {args.runs} of each in turn (seconds)")
    for key, values in processes.items():
        print(f"  {key:<54} {spread(values)}")
    difference = statistics.median(processes["linnet train"]) - statistics.median(processes["linnet train --no-plots"])
    print(f"  {'difference of the medians: what the figures cost':<54} {difference:17.3f}")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in load_start)} before, "
          f"{' '.join(f'{x:.2f}' for x in load_end)} after; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
