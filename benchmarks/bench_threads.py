"""Thread policy, before and after: each implementation's training time on a quiet machine and beside a
competing busy process, with torch's default thread count ("before": every product on all threads,
as linnet ran before linnet.threads) and with linnet's choice ("after": measured, 1 or all).

    python benchmarks/bench_threads.py [--dataset digits|fashion-6k] [--epochs N] [--spinners N]

Every row is its own process (`fit` on resident data, the data loaded before the clock starts). The
busy rows start `--spinners` processes that spin on the CPU (default: one), as another user's job
would; on a machine that other work already loads, "quiet" is only as quiet as the load average
printed with the table. Rows: fast (the compiled kernel), fast with LINNET_KERNEL=0 (its torch
code), scratch (autograd), concise (torch.nn).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
IMPLS = ("fast", "fast-torch", "scratch", "concise")
SPIN = "while True:\n    pass\n"


def worker(impl: str, policy: str, dataset: str, epochs: int) -> dict:
    import torch

    import linnet
    from linnet.experiment import loaders_for
    from linnet.threads import describe, fixed_threads
    if dataset == "digits":
        ds = linnet.load_dataset("digits")
    else:
        from common import make_data
        ds = linnet.load_dataset("fashion-mnist", make_data(HERE / ".data" / "fashion-6k", 6000, 1000), download=False)
    cfg = linnet.TrainConfig(impl=impl.split("-")[0], dataset="digits" if dataset == "digits" else "fashion-mnist",
                             epochs=epochs)
    train_iter, test_iter = loaders_for(cfg, ds)
    model = linnet.build_model("softmax", cfg.impl, ds.train.images[0].numel(), 10,
                               generator=torch.Generator().manual_seed(0))
    default = torch.get_num_threads()
    fixed = default if policy == "before" else None   # before: torch's default count, untimed
    start = time.perf_counter()
    with fixed_threads(fixed):
        history = linnet.fit(model, train_iter, test_iter, epochs, cfg.resolved("lr"))
        seconds = time.perf_counter() - start
        how = describe(fixed)
    return {"seconds": seconds, "test_acc": history[-1].test_acc, "threads": how}


def run_row(impl: str, policy: str, dataset: str, epochs: int) -> dict:
    env = dict(os.environ, LINNET_KERNEL="0") if impl == "fast-torch" else dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)   # the policy under test decides
    out = subprocess.run([sys.executable, __file__, "--worker", impl, policy, "--dataset", dataset,
                          "--epochs", str(epochs)], capture_output=True, text=True, env=env, timeout=900)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("digits", "fashion-6k"), default="digits")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--spinners", type=int, default=1, help="busy processes beside the busy rows")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.dataset, args.epochs)))
        return
    print(f"{args.dataset}, {args.epochs} epochs, {os.cpu_count()} CPUs; load average at start {os.getloadavg()}")
    rows = {}
    for busy in (False, True):
        spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.spinners if busy else 0)]
        try:
            time.sleep(0.5 if busy else 0)
            for impl in IMPLS:
                for policy in ("before", "after"):
                    rows[impl, busy, policy] = row = run_row(impl, policy, args.dataset, args.epochs)
                    print(f"  {impl} {'busy' if busy else 'quiet'} {policy}: {row}", flush=True)
        finally:
            for p in spinners:
                p.kill()
                p.wait()
    print(f"\n{'impl':<12}{'machine':<8}{'before s':>10}{'after s':>10}{'ratio':>8}  threads after (acc before/after)")
    for impl in IMPLS:
        for busy in (False, True):
            b, a = rows[impl, busy, "before"], rows[impl, busy, "after"]
            if "error" in b or "error" in a:
                print(f"{impl:<12}{'busy' if busy else 'quiet':<8}  error: {b.get('error') or a.get('error')}")
                continue
            print(f"{impl:<12}{'busy' if busy else 'quiet':<8}{b['seconds']:>10.3f}{a['seconds']:>10.3f}"
                  f"{b['seconds'] / a['seconds']:>7.1f}x  {a['threads']} ({b['test_acc']:.3f}/{a['test_acc']:.3f})")
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
