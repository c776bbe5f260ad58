"""`linnet evaluate RUN_DIR [--json]`: test loss, accuracy and per-class accuracy (label order) of a
run's last checkpoint."""
from __future__ import annotations

import json

from linnet.config import TRAIN_DATASETS


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="test loss, accuracy and per-class accuracy of a run")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--dataset", choices=TRAIN_DATASETS, help="evaluate on this dataset (default: the run's own)")
    p.add_argument("--data-dir", help="directory holding the four IDX files (default: the run's, else the cache)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    p.set_defaults(run=run)


def run(args) -> int:
    import dataclasses

    from linnet.experiment import load_for, loaders_for
    from linnet.metrics import confusion_matrix, per_class_table
    from linnet.restore import load_run
    from linnet.train import evaluate, predict_all
    run = load_run(args.run_dir)
    cfg = dataclasses.replace(run.config, **{k: v for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir)) if v})
    # a table: standardised with the statistics the model trained with; never a download or a new
    # directory where the run's config.json points (reading a run writes nothing outside it)
    ds = load_for(cfg, run.stats, download=False)
    _, test = loaders_for(cfg, ds)
    loss, acc = evaluate(run.model, test)
    result = {"run": str(run.run_dir), "epochs": len(run.history), "model": cfg.model, "impl": cfg.impl,
              "dataset": ds.name, "samples": len(ds.test), "test_loss": loss, "test_acc": acc}
    if cfg.model == "linear" and cfg.data is not None:
        result["test_rmse"] = (2 * loss) ** 0.5
    if acc is not None:
        cm = confusion_matrix(ds.test.labels, predict_all(run.model, test), len(ds.classes))
        result["per_class_acc"] = per_class_table(ds.classes, cm)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"run          {run.run_dir} ({len(run.history)} epochs, {cfg.model}, {cfg.impl})")
    print(f"dataset      {ds.name} test split, {len(ds.test)} samples")
    print(f"test loss    {loss:.4f}")
    if "test_rmse" in result:
        print(f"test RMSE    {result['test_rmse']:.4f}")
    if acc is not None:
        print(f"test acc     {acc:.4f}")
        width = max(len(c) for c in ds.classes)
        for row in result["per_class_acc"]:
            class_acc = row["acc"] if row["acc"] is not None else float("nan")
            print(f"  {row['class']:<{width}}  {class_acc:.3f}  ({row['samples']} samples)")
    return 0
