"""Data-parallel scaling: 1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread
(linnet.distributed over gloo on 127.0.0.1), softmax regression, impl fast, batch 256, lr 0.1.

    python benchmarks/bench_distributed.py [--sizes 60000 1000000] [--epochs 2]

Two data sets, generated once into benchmarks/.data (common.make_data): the chapter's run (60k
28x28 images, resident) and 1M images (raw IDX, memory-mapped: the two processes share the page
cache instead of holding 784 MB each). Each configuration runs in fresh processes; s/epoch is the
best epoch (training steps plus the evaluation on 10k test images), measured by rank 0.

Scaling efficiency = (s/epoch of 1 process x 1 thread) / (cores used x s/epoch): 1.00 means the
second core brought a full second core's worth. One process runs the fused compiled kernel; the
processes of a data-parallel run each compute their slice's gradient in torch, all-reduce it, then
update: the price of exactness across ranks, plus one all-reduce a step.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import make_data  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data"
CONFIGS = ((1, 1), (1, 2), (2, 1))   # (processes, threads each)


def worker(data_dir: str, mmap: bool, epochs: int) -> dict | None:
    import torch

    import linnet
    from linnet import distributed
    from linnet.data.loader import Loader
    parallel = distributed.from_env()          # None for the single-process rows
    ds = linnet.load_dataset("fashion-mnist", data_dir, download=False, mmap=mmap)
    model = linnet.build_model("softmax", "fast", 784, 10, generator=torch.Generator().manual_seed(0))
    train, test = Loader(ds.train, 256, shuffle=True, seed=0), Loader(ds.test, 4096)
    history = linnet.fit(model, train, test, epochs, 0.1, parallel=parallel)
    if parallel is not None:
        parallel.close()
        if not parallel.is_writer:
            return None
    return {"epoch_s": min(r.seconds for r in history), "test_acc": history[-1].test_acc}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(directory: Path, mmap: bool, procs: int, threads: int, epochs: int) -> dict:
    """One configuration in fresh processes (torchrun's environment set here, on 127.0.0.1)."""
    port = free_port()
    runs = []
    for rank in range(procs):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        if procs > 1:
            env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(procs), MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=str(port))
        runs.append(subprocess.Popen([sys.executable, __file__, "--worker", str(directory), "mmap" if mmap else "memory",
                                      "--epochs", str(epochs)], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
    outs = [p.communicate() for p in runs]
    if any(p.returncode for p in runs):
        raise SystemExit(f"{procs} x {threads}: {outs[0][1].strip().splitlines()[-1:]}")
    return json.loads(outs[0][0].strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.worker[0], args.worker[1] == "mmap", args.epochs)
        if result is not None:
            print(json.dumps(result))
        return
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min average; {os.cpu_count()} cores)")
    print(f"{'samples':>9} {'procs x threads':>15} {'s/epoch':>8} {'us/sample':>10} {'efficiency':>10} {'test acc':>9}")
    for n in args.sizes:
        mmap = n > 100_000
        directory = make_data(DATA / (f"scale-{n}" if mmap else "chapter"), n_train=n, n_test=10_000, compress=not mmap)
        base = None
        for procs, threads in CONFIGS:
            r = measure(directory, mmap, procs, threads, args.epochs)
            base = base or r["epoch_s"]
            print(f"{n:>9} {f'{procs} x {threads}':>15} {r['epoch_s']:>8.3f} {1e6 * r['epoch_s'] / n:>10.2f} "
                  f"{base / (procs * threads * r['epoch_s']):>10.2f} {r['test_acc']:>9.4f}", flush=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
