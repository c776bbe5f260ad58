"""`linnet runs [RUNS_DIR] [--json]`: the runs so far, one line each (name, dataset, impl, epochs,
test accuracy or loss, date), from their config.json and summary.json; nothing heavy is imported."""
from __future__ import annotations

import json

from linnet.config import TrainConfig


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="a table of the runs in a runs directory")
    p.add_argument("runs_dir", nargs="?", default=TrainConfig.runs_dir, metavar="RUNS_DIR",
                   help=f"the directory holding run directories (default: {TrainConfig.runs_dir})")
    p.add_argument("--json", action="store_true", help="print the runs as a JSON list instead of a table")
    p.set_defaults(run=run)


def run(args) -> int:
    from linnet.runlist import list_runs
    rows = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no runs in {args.runs_dir}")
        return 0
    print(table(rows))
    return 0


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if key == "result":
        if row.get("test_acc") is not None:
            return f"acc {row['test_acc']:.4f}"
        return f"loss {row['test_loss']:.4g}" if row.get("test_loss") is not None else row.get("problem", "-")
    if key == "impl" and row.get("solver") == "lbfgs":
        return "lbfgs"
    if key == "created" and isinstance(value, str):
        return value[:16].replace("T", " ")     # to the minute: 2026-11-21 22:30
    return "-" if value is None else str(value)


def table(rows: list[dict]) -> str:
    """Aligned columns: NAME DATASET IMPL EPOCHS TEST DATE."""
    keys = ("name", "dataset", "impl", "epochs", "result", "created")
    heads = ("NAME", "DATASET", "IMPL", "EPOCHS", "TEST", "DATE")
    cells = [heads] + [tuple(_cell(r, k) for k in keys) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    right = {3}   # epochs: a number
    return "\n".join("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))).rstrip()
                     for line in cells)
