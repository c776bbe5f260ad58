"""bench_train.py's printout: machine facts, the table, the ratios, and last `speedup_vs_textbook_best=`."""
from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version

LABELS = {
    "textbook-4w": "textbook, 4 workers (book)",
    "textbook-0w": "textbook, 0 workers",
    "torch-plain": "plain PyTorch loop",
    "sklearn-sgd": "sklearn SGDClassifier",
    "sklearn-logreg": "sklearn LogisticRegression",
    "linnet-lbfgs": "linnet lbfgs_softmax",
    "linnet-fast": "linnet fast",
    "linnet-fast-noprefetch": "linnet fast LINNET_PREFETCH=0",
    "linnet-fast-torch": "linnet fast LINNET_KERNEL=0",
    "linnet-scratch": "linnet scratch",
    "linnet-concise": "linnet concise",
}
REFERENCES = ("textbook", "torch-plain", "sklearn-sgd", "sklearn-logreg")   # the ratio columns


def _versions() -> str:
    out = []
    for pkg in ("torch", "numpy", "scikit-learn", "pillow"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            out.append(f"{pkg} -")
    return ", ".join(out)


def _ok(results: list[dict], variant: str) -> dict | None:
    return next((r for r in results if r["variant"] == variant and "error" not in r), None)


def print_report(results: list[dict], facts: dict) -> None:
    la0, la1 = (", ".join(f"{x:.2f}" for x in facts[k]) for k in ("load_start", "load_end"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
          f"{platform.system()} {platform.release()}, Python {platform.python_version()}, {_versions()}")
    threads = f"--threads {facts['threads']} (torch, OpenMP, MKL, OpenBLAS)" if facts.get("threads") else "each library's default"
    print(f"data: {facts['data_dir']}; epochs {facts['epochs']}, batch 256, lr 0.1; threads: {threads}")
    print(f"load average (1/5/15 min): start {la0}; end {la1}; benchmark wall time {facts['wall']:.0f} s")
    print(f"benchmark parent: own peak {facts['parent_peak_mb']:.0f} MB, ru_maxrss {facts['parent_ru_maxrss_mb']:.0f} MB "
          "(a worker's ru_maxrss can show the parent's peak; 'own peak' is the worker's VmHWM)")

    print(f"\n{'row':<34} {'seconds':>8} {'test acc':>9} {'own peak MB':>12} {'ru_maxrss MB':>13}  notes")
    for r in results:
        label = LABELS.get(r["variant"], r["variant"])
        if "error" in r:
            print(f"{label:<34} error: {r['error']}")
            continue
        acc = f"{r['test_acc']:>9.4f}" if "test_acc" in r else f"{'':>9}"
        maxrss = f"{r['ru_maxrss_mb']:>13.0f}" if "ru_maxrss_mb" in r else f"{'-':>13}"
        print(f"{label:<34} {r['seconds']:>8.3f} {acc} {r['peak_rss_mb']:>12.0f} {maxrss}  {r.get('note', '')}")

    textbook = [r for r in results if r["variant"].startswith("textbook") and "error" not in r]
    refs = {"textbook": min(textbook, key=lambda r: r["seconds"]) if textbook else None}
    refs.update({v: _ok(results, v) for v in REFERENCES[1:]})
    names = {k: (LABELS[v["variant"]] if k == "textbook" and v else k) for k, v in refs.items()}
    print("\nratios: reference seconds / row seconds (above 1: the row is faster); accuracy in points against "
          f"the textbook recipe (the faster of its two rows: {names['textbook']})")
    print(f"{'row':<34} " + " ".join(f"{'vs ' + k:>17}" for k in REFERENCES) + f" {'acc vs book':>12}")
    for r in results:
        if "error" in r or "test_acc" not in r:
            continue
        cells = [f"{ref['seconds'] / r['seconds']:>16.2f}x" if ref else f"{'-':>17}" for ref in refs.values()]
        book = refs["textbook"]
        dacc = f"{100 * (r['test_acc'] - book['test_acc']):>+12.2f}" if book else f"{'-':>12}"
        print(f"{LABELS.get(r['variant'], r['variant']):<34} " + " ".join(cells) + f" {dacc}")

    print()
    fast, torch_import = _ok(results, "linnet-fast"), _ok(results, "python: import torch")
    floor = f"; `import torch` alone: {torch_import['seconds']:.2f} s" if torch_import else ""
    for cli in (_ok(results, "linnet train (process)"), _ok(results, "linnet train --no-plots (process)")):
        if cli:
            print(f"{cli['variant']}: {cli['seconds']:.2f} s whole process, train_seconds {cli['train_seconds']:.3f} s "
                  f"(summary.json): {cli['seconds'] - cli['train_seconds']:.2f} s outside training (start-up, data, "
                  f"run directory{', figures' if '--no-plots' not in cli['variant'] else ''}){floor}")
    helps = _ok(results, "linnet --help")
    if helps:
        print(f"linnet --help: {helps['seconds']:.3f} s (target <= 0.2 s), own peak {helps['peak_rss_mb']:.0f} MB")
    lb, lr = _ok(results, "linnet-lbfgs"), refs["sklearn-logreg"]
    if lb and lr:
        print(f"linnet lbfgs_softmax vs sklearn LogisticRegression: {lb['seconds'] / lr['seconds']:.2f}x the time; "
              f"objective {lb['objective']:.6f} vs {lr['objective']:.6f}; test acc {lb['test_acc']:.4f} vs {lr['test_acc']:.4f}")
    if not facts.get("quick"):   # the targets are for the chapter's run, not the smoke test
        _print_targets(results)
    if refs["textbook"] and fast:
        print(f"speedup_vs_textbook_best={refs['textbook']['seconds'] / fast['seconds']:.1f}")


TARGETS = (  # issue 16's, on a quiet machine: (what, rows, field, at most seconds); the best row counts
    ("train_seconds of linnet train", ("linnet train (process)", "linnet train --no-plots (process)"),
     "best_train_seconds", 0.3),
    ("fit of linnet fast in the process", ("linnet-fast",), "seconds", 0.3),
    ("whole linnet train process", ("linnet train (process)",), "seconds", 1.5),
    ("linnet --help", ("linnet --help",), "seconds", 0.2),
)


def _print_targets(results: list[dict]) -> None:
    """Each target against this run's best figure: met or not, nothing rounded in its favour."""
    torch_import = _ok(results, "python: import torch")
    for what, variants, field, limit in TARGETS:
        figures = [row[field] for row in map(lambda v: _ok(results, v), variants) if row and field in row]
        if not figures:
            continue
        best = min(figures)
        verdict = "met" if best <= limit else "NOT met"
        extra = (f" (`import torch` alone took {torch_import['seconds']:.2f} s in this run)"
                 if verdict != "met" and what.startswith("whole") and torch_import else "")
        print(f"target: {what} <= {limit} s: {best:.3f} s, {verdict}{extra}")
