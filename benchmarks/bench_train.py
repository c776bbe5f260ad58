"""The chapter's run (softmax regression, batch 256, lr 0.1, 10 epochs + test accuracy each epoch),
timed side by side: the textbook recipe (DataLoader with 4 and 0 workers) against linnet's paths.

    python benchmarks/bench_train.py [--data-dir DIR] [--epochs 10] [--skip-textbook]

Without --data-dir, 60000/10000 generated 28x28 images are written once to benchmarks/.data.
Every variant runs in its own process (peak RSS is its own); linnet-fast-torch is linnet-fast with
LINNET_KERNEL=0, i.e. its torch code, as on a machine where the compiled kernel is not built.
Prints a table, the ratios against the faster textbook variant, and last
`speedup_vs_textbook_best=<x>`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import make_data, peak_rss_mb  # noqa: E402


def worker(variant: str, data_dir: str, epochs: int) -> dict:
    import torch

    import linnet
    t0 = time.perf_counter()
    ds = linnet.load_dataset("fashion-mnist", data_dir, download=False)
    load_seconds = time.perf_counter() - t0
    if variant.startswith("textbook"):
        from textbook import train
        workers = int(variant.split("-")[1].removesuffix("w"))
        start = time.perf_counter()
        acc = train(ds.train.images, ds.train.labels, ds.test.images, ds.test.labels, workers, epochs)
    else:
        impl = variant.split("-")[1]   # linnet-fast-torch: the fast impl with LINNET_KERNEL=0 (see VARIANTS)
        from linnet.experiment import loaders_for
        cfg = linnet.TrainConfig(impl=impl, dataset="fashion-mnist", epochs=epochs)
        train_iter, test_iter = loaders_for(cfg, ds)
        model = linnet.build_model("softmax", impl, 784, 10, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        history = linnet.fit(model, train_iter, test_iter, epochs, 0.1)
        acc = history[-1].test_acc
    from linnet.models import kernel
    return {"variant": variant, "seconds": time.perf_counter() - start, "test_acc": acc,
            "peak_rss_mb": peak_rss_mb(), "load_seconds": load_seconds,
            "kernel": kernel.describe()}


def run_worker(variant: str, data_dir: Path, epochs: int) -> dict:
    env = dict(os.environ, LINNET_KERNEL="0") if variant.endswith("-torch") else None
    out = subprocess.run([sys.executable, __file__, "--worker", variant, "--data-dir", str(data_dir),
                          "--epochs", str(epochs)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"variant": variant, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_cli(data_dir: Path, epochs: int) -> dict:
    """`linnet train` as a whole process: import, load, train, write the run directory."""
    exe = Path(sys.executable).with_name("linnet")
    with tempfile.TemporaryDirectory() as runs:
        start = time.perf_counter()
        proc = subprocess.Popen([str(exe), "train", "--dataset", "fashion-mnist", "--data-dir", str(data_dir),
                                 "--epochs", str(epochs), "--runs-dir", runs, "--name", "bench", "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if status != 0:
            return {"variant": "linnet train (process)", "error": proc.stderr.read().decode().strip()[-200:]}
        summary = json.loads((Path(runs) / "bench" / "summary.json").read_text())
    return {"variant": "linnet train (process)", "seconds": seconds, "test_acc": summary["test_acc"],
            "peak_rss_mb": usage.ru_maxrss / 1024.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--skip-textbook", action="store_true", help="only linnet's paths (quick check)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, str(args.data_dir), args.epochs)))
        return
    data_dir = args.data_dir or make_data(Path(__file__).resolve().parent / ".data" / "fashion-60k")
    variants = ([] if args.skip_textbook else ["textbook-4w", "textbook-0w"]) + \
        ["linnet-fast", "linnet-fast-torch", "linnet-scratch", "linnet-concise"]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}; data: {data_dir}")
    results = [run_worker(v, data_dir, args.epochs) for v in variants] + [run_cli(data_dir, args.epochs)]
    print(f"\n{'variant':<24} {'seconds':>8} {'test acc':>9} {'peak RSS MB':>12}")
    for r in results:
        if "error" in r:
            print(f"{r['variant']:<24} error: {r['error']}")
        else:
            print(f"{r['variant']:<24} {r['seconds']:>8.3f} {r['test_acc']:>9.4f} {r['peak_rss_mb']:>12.0f}")
    fast = next(r for r in results if r["variant"] == "linnet-fast")
    if "load_seconds" in fast:
        print(f"\nparse 4 IDX .gz files (70k images): {fast['load_seconds']:.3f} s")
        print(f"linnet-fast's inner loop: {fast['kernel']}")
    textbook = [r for r in results if r["variant"].startswith("textbook") and "error" not in r]
    if textbook and "error" not in fast:
        best = min(textbook, key=lambda r: r["seconds"])
        print(f"\nratios against {best['variant']} ({best['seconds']:.2f} s):")
        for r in results:
            if "error" not in r:
                print(f"  {r['variant']:<24} {best['seconds'] / r['seconds']:>7.1f}x faster"
                      f"   accuracy {100 * (r['test_acc'] - best['test_acc']):+.2f} points")
        print(f"speedup_vs_textbook_best={best['seconds'] / fast['seconds']:.1f}")


if __name__ == "__main__":
    main()
