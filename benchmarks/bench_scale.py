"""Cost against data size: seconds per epoch and peak RSS of linnet's default path for 10k, 100k
and 1M generated 28x28 samples, from resident memory and from memory-mapped uncompressed IDX files.

    python benchmarks/bench_scale.py [--sizes 10000 100000 1000000] [--epochs 2]

Training from a memory map (`linnet train --mmap --data-dir DIR`, with the four IDX files
uncompressed in DIR) keeps the images on disk: the OS pages in what each batch touches, so a set
larger than memory trains at the speed of the page cache / disk. The data is written once to
benchmarks/.data (raw IDX: 784 MB for 1M samples). Each measurement runs in its own process.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import make_data, peak_rss_mb  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data"


def worker(data_dir: str, mmap: bool, epochs: int) -> dict:
    import torch

    import linnet
    from linnet.data.loader import Loader
    t0 = time.perf_counter()
    ds = linnet.load_dataset("fashion-mnist", data_dir, download=False, mmap=mmap)
    load = time.perf_counter() - t0
    model = linnet.build_model("softmax", "fast", 784, 10, generator=torch.Generator().manual_seed(0))
    train = Loader(ds.train, 256, shuffle=True, seed=0)
    test = Loader(ds.test, 4096)
    history = linnet.fit(model, train, test, epochs, 0.1)
    per_epoch = [r.seconds for r in history]
    return {"n": len(ds.train), "mmap": mmap, "load_s": load, "epoch_s": min(per_epoch),
            "test_acc": history[-1].test_acc, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1] == "mmap", args.epochs)))
        return
    rows = []
    for n in args.sizes:
        directory = make_data(DATA / f"scale-{n}", n_train=n, n_test=10_000, compress=False)
        for mode in ("memory", "mmap"):
            out = subprocess.run([sys.executable, __file__, "--worker", str(directory), mode, "--epochs",
                                  str(args.epochs)], capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{n} {mode}: error: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
                continue
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("\ns/epoch: one epoch of batch-256 SGD plus the evaluation on 10000 test samples (best of the epochs)")
    print(f"{'samples':>9} {'mode':>7} {'load s':>7} {'s/epoch':>8} {'us/sample':>10} {'test acc':>9} {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['n']:>9} {'mmap' if r['mmap'] else 'memory':>7} {r['load_s']:>7.2f} {r['epoch_s']:>8.3f} "
              f"{1e6 * r['epoch_s'] / r['n']:>10.2f} {r['test_acc']:>9.4f} {r['peak_rss_mb']:>12.0f}")
    for mmap in (False, True):
        same = [r for r in rows if r["mmap"] == mmap]
        if len(same) >= 2:  # the two largest sizes: the fixed per-epoch cost (10k test samples) fades
            lo, hi = same[-2], same[-1]
            ratio = (hi["epoch_s"] / lo["epoch_s"]) / (hi["n"] / lo["n"])
            print(f"cost growth {lo['n']} -> {hi['n']} samples ({'mmap' if mmap else 'memory'}): "
                  f"{ratio:.2f} x linear (1.00 = exactly linear)")


if __name__ == "__main__":
    main()
