"""The chapter's run (softmax regression, 60000/10000 28x28 images, batch 256, lr 0.1, 10 epochs, test
accuracy after every epoch), timed side by side, every row in its own process:

  textbook-4w / -0w   the chapter's recipe exactly as the book writes it (benchmarks/textbook.py:
                      per-item FashionMNIST + ToTensor, DataLoader with the book's 4 workers, and
                      with 0), the book's softmax / cross_entropy / train_ch3 / d2l.sgd
  torch-plain         a competent plain PyTorch loop (benchmarks/plain_torch.py)
  sklearn-sgd         scikit-learn SGDClassifier(log_loss), same epochs and per-sample step
  sklearn-logreg      scikit-learn LogisticRegression(lbfgs), the convex optimum (benchmarks/sklearn_rows.py)
  linnet-lbfgs        linnet.solvers.lbfgs_softmax (`linnet train --solver lbfgs`) on the same objective
  linnet-fast ...     linnet.fit with impl fast / fast with LINNET_PREFETCH=0 (the kernel without its
                      prefetch of the next step's rows: what the prefetch brings) / fast with
                      LINNET_KERNEL=0 (its torch code, as where the kernel is not built) / scratch / concise
  linnet --help, linnet train [--no-plots] (process)   the console script as a whole process, next
                      to `python -c "import torch"` (the floor under a process that trains)

    python benchmarks/bench_train.py [--data-dir DIR] [--epochs N] [--quick] [--threads N] [--skip-textbook]

Without --data-dir, 60000/10000 generated images are written once to benchmarks/.data/fashion-60k
(--quick: 6000/1000 in fashion-6k, 1 epoch, without the two full-batch L-BFGS rows, which take
minutes on a busy machine: a smoke test of the script, not a measurement).
Seconds are training time inside the process (the data already loaded; scikit-learn: fit), except the
process rows (wall time of the whole command). Peak RSS is each process's own high-water mark
(VmHWM); the ru_maxrss column beside it is what getrusage reports, which on Linux can be the parent's.
--threads N sets every library's thread pool in every row: on a machine shared with other work, torch
steps with 2 threads were measured up to 30x slower than with 1 (threads wait on each other), so
`--threads 1` gives steadier figures there; on a quiet machine the defaults are the real thing.
Prints machine facts, the table, ratios against the textbook recipe (the faster of its 4/0-worker
rows), plain PyTorch and scikit-learn, and last `speedup_vs_textbook_best=<x>` (linnet-fast).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import make_data, peak_rss_mb, ru_maxrss_mb  # noqa: E402
from report import print_report  # noqa: E402

WORKERS = ("textbook-4w", "textbook-0w", "torch-plain", "sklearn-sgd", "sklearn-logreg", "linnet-lbfgs",
           "linnet-fast", "linnet-fast-noprefetch", "linnet-fast-torch", "linnet-scratch", "linnet-concise")
SLOW = ("sklearn-logreg", "linnet-lbfgs")   # full-batch solvers to convergence: left out by --quick
TIMEOUT_S = 1800   # per row; a row that takes longer is reported as an error, the rest still run
REPEATS = 3        # the sub-second rows (linnet fast, the linnet processes) run this often: best, and all, shown

# Runs the console script in this process and writes its own VmHWM to argv[1] on the way out:
# `linnet` leaves by os._exit (no atexit), so os._exit is wrapped too. runpy adds ~ms to the time.
PEAK_WRAPPER = """
import atexit, os, runpy, sys
out = sys.argv[1]
def peak():
    with open('/proc/self/status') as f:
        kb = next(l for l in f if l.startswith('VmHWM:')).split()[1]
    with open(out, 'w') as f:
        f.write(kb)
real_exit = os._exit
def exit_with_peak(code):
    peak()
    real_exit(code)
os._exit = exit_with_peak
atexit.register(peak)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name='__main__')
"""


def linnet_row(variant: str, data_dir: str, epochs: int) -> dict:
    import torch

    import linnet
    from linnet.experiment import loaders_for
    from linnet.models import kernel
    ds = linnet.load_dataset("fashion-mnist", data_dir, download=False)
    impl = variant.split("-")[1]   # linnet-fast-torch / -noprefetch: the fast impl, LINNET_KERNEL=0 / LINNET_PREFETCH=0
    cfg = linnet.TrainConfig(impl=impl, dataset="fashion-mnist", epochs=epochs)
    train_iter, test_iter = loaders_for(cfg, ds)
    runs = []
    for _ in range(REPEATS if impl == "fast" else 1):   # a fresh model each time: the same run again
        model = linnet.build_model("softmax", impl, 784, 10, generator=torch.Generator().manual_seed(0))
        start = time.perf_counter()
        history = linnet.fit(model, train_iter, test_iter, epochs, 0.1)
        runs.append(time.perf_counter() - start)
    note = f"kernel: {kernel.describe()}" if impl == "fast" else ""
    if len(runs) > 1:
        note += f"; best of {len(runs)}: " + ", ".join(f"{r:.3f}" for r in runs) + " s"
    return {"seconds": min(runs), "test_acc": history[-1].test_acc, "note": note}


def torch_row(variant: str, data_dir: str, epochs: int) -> dict:
    import torch

    import linnet
    ds = linnet.load_dataset("fashion-mnist", data_dir, download=False)
    args = (ds.train.images, ds.train.labels, ds.test.images, ds.test.labels)   # (N, 28, 28) uint8, (N,) int64
    if variant == "torch-plain":
        from plain_torch import build, run_plain
        net, opt = build()
        start = time.perf_counter()
        acc = run_plain(net, opt, *args, num_epochs=epochs)[-1]
        note = f"torch threads: {torch.get_num_threads()}"
    else:
        from textbook import run_chapter
        start = time.perf_counter()
        workers = int(variant.split("-")[1].removesuffix("w"))
        acc = run_chapter(*args, workers=workers, num_epochs=epochs)[-1][2]
        note = f"the book's recipe, num_workers={workers}" + (" (+4 loader processes, not in RSS)" if workers else "")
    return {"seconds": time.perf_counter() - start, "test_acc": acc, "note": note}


def worker(variant: str, data_dir: str, epochs: int) -> dict:
    """One row, in this (fresh) process; memory is measured before anything the row does not need."""
    import sklearn_rows   # numpy only: no torch unless the row needs it
    if variant.startswith(("sklearn", "linnet-lbfgs")):
        n_jobs = int(os.environ.get("OMP_NUM_THREADS", "-1"))   # --threads, else all cores
        fn = {"sklearn-sgd": lambda: sklearn_rows.sgd_row(data_dir, epochs, n_jobs=n_jobs),
              "sklearn-logreg": lambda: sklearn_rows.logreg_row(data_dir),
              "linnet-lbfgs": lambda: sklearn_rows.lbfgs_row(data_dir)}[variant]
        row = fn()
    elif variant.startswith("linnet"):
        row = linnet_row(variant, data_dir, epochs)
    else:
        row = torch_row(variant, data_dir, epochs)
    row.update(variant=variant, peak_rss_mb=peak_rss_mb(), ru_maxrss_mb=ru_maxrss_mb())
    if "solution" in row:   # the L-BFGS rows: objective at the solution, after the memory is taken
        row["objective"] = sklearn_rows.objective(row.pop("solution"), data_dir)
    return row


def thread_env(threads: int | None) -> dict:
    """--threads N: every library's pool (torch, OpenMP in linnet's kernel, MKL, OpenBLAS) to N threads."""
    if threads is None:
        return dict(os.environ)
    return dict(os.environ, **{k: str(threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})


def run_worker(variant: str, data_dir: Path, epochs: int, env: dict) -> dict:
    env = dict(env, LINNET_KERNEL="0") if variant.endswith("-torch") else env
    env = dict(env, LINNET_PREFETCH="0") if variant.endswith("-noprefetch") else env
    try:
        out = subprocess.run([sys.executable, __file__, "--worker", variant, "--data-dir", str(data_dir),
                              "--epochs", str(epochs)], capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"variant": variant, "error": f"over {TIMEOUT_S} s"}
    if out.returncode != 0:
        return {"variant": variant, "error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_process(args: list[str], env: dict, script: Path | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """A Python script (default: the `linnet` console script) with args as a whole process:
    (wall seconds, own peak MB, result)."""
    exe = script or Path(sys.executable).with_name("linnet")
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, str(peak_file), str(exe), *args],
                             capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
        seconds = time.perf_counter() - start
        peak = int(peak_file.read_text()) / 1024.0 if peak_file.exists() else float("nan")
    return seconds, peak, out


def run_help(env: dict) -> dict:
    """`linnet --help`: best of 3 (start-up cost only; the first run may also warm the page cache)."""
    runs = [run_process(["--help"], env) for _ in range(3)]
    seconds, peak, out = min(runs, key=lambda r: r[0])
    if out.returncode != 0:
        return {"variant": "linnet --help", "error": out.stderr.strip()[-200:]}
    return {"variant": "linnet --help", "seconds": seconds, "peak_rss_mb": peak,
            "note": "best of 3: " + ", ".join(f"{r[0]:.3f}" for r in runs) + " s; target <= 0.2 s"}


def run_import_torch(env: dict) -> dict:
    """`import torch` alone as a process: the floor under every process row, and a gauge of the load."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "import_torch.py"
        script.write_text("import torch\n")
        seconds, peak, out = run_process([], env, script)
    if out.returncode != 0:
        return {"variant": "python: import torch", "error": out.stderr.strip()[-200:]}
    return {"variant": "python: import torch", "seconds": seconds, "peak_rss_mb": peak,
            "note": "the floor under a linnet train process"}


def run_cli(data_dir: Path, epochs: int, env: dict, plots: bool = True) -> dict:
    """`linnet train` as a whole process: import, load, train, write the run directory (and figures).
    Best of REPEATS by wall time; the note lists every run's wall and train_seconds."""
    variant = "linnet train (process)" if plots else "linnet train --no-plots (process)"
    runs = []
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, peak, out = run_process([
                "train", "--dataset", "fashion-mnist", "--data-dir", str(data_dir), "--epochs", str(epochs),
                "--runs-dir", tmp, "--name", "bench", "--quiet", *([] if plots else ["--no-plots"])], env)
            if out.returncode != 0:
                return {"variant": variant, "error": out.stderr.strip()[-200:]}
            summary = json.loads((Path(tmp) / "bench" / "summary.json").read_text())
        runs.append((seconds, peak, summary))
    seconds, peak, summary = min(runs, key=lambda r: r[0])
    listed = ", ".join(f"{s:.2f}/{m['train_seconds']:.3f}" for s, _, m in runs)
    return {"variant": variant, "seconds": seconds, "test_acc": summary["test_acc"],
            "peak_rss_mb": peak, "train_seconds": summary["train_seconds"],
            "best_train_seconds": min(m["train_seconds"] for _, _, m in runs),
            "note": f"train_seconds {summary['train_seconds']:.3f} (summary.json); best of {len(runs)}, "
                    f"wall/train_seconds: {listed}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="the four IDX files (default: generated, see above)")
    parser.add_argument("--epochs", type=int, help="default 10 (--quick: 1)")
    parser.add_argument("--quick", action="store_true", help="6000/1000 images, 1 epoch, no L-BFGS rows: a smoke test")
    parser.add_argument("--threads", type=int, help="threads for every library in every row (default: their own)")
    parser.add_argument("--skip-textbook", action="store_true", help="leave out the two textbook rows")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    epochs = args.epochs or (1 if args.quick else 10)
    if args.worker:
        print(json.dumps(worker(args.worker, str(args.data_dir), epochs)))
        return
    data_dir = args.data_dir or (make_data(HERE / ".data" / "fashion-6k", 6000, 1000) if args.quick
                                 else make_data(HERE / ".data" / "fashion-60k"))
    variants = [v for v in WORKERS if not (args.skip_textbook and v.startswith("textbook"))
                and not (args.quick and v in SLOW)]
    load_start, t0 = os.getloadavg(), time.perf_counter()
    env = thread_env(args.threads)
    results = [run_worker(v, data_dir, epochs, env) for v in variants] + [
        run_help(env), run_import_torch(env), run_cli(data_dir, epochs, env), run_cli(data_dir, epochs, env, plots=False)]
    facts = {"quick": args.quick, "threads": args.threads, "data_dir": data_dir, "epochs": epochs, "load_start": load_start, "load_end": os.getloadavg(),
             "wall": time.perf_counter() - t0, "parent_peak_mb": peak_rss_mb(), "parent_ru_maxrss_mb": ru_maxrss_mb()}
    print_report(results, facts)


if __name__ == "__main__":
    main()
