"""`linnet evaluate RUN_DIR`: test loss, accuracy and per-class accuracy of a run's last checkpoint."""
from __future__ import annotations

from linnet.config import TRAIN_DATASETS


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="test loss, accuracy and per-class accuracy of a run")
    p.add_argument("run_dir")
    p.add_argument("--dataset", choices=TRAIN_DATASETS)
    p.add_argument("--data-dir")
    p.set_defaults(run=run)


def run(args) -> int:
    import dataclasses

    from linnet.experiment import load_for, loaders_for
    from linnet.restore import load_run
    from linnet.metrics import confusion_matrix, per_class_accuracy
    from linnet.train import evaluate, predict_all
    run = load_run(args.run_dir)
    cfg = dataclasses.replace(run.config, **{k: v for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir)) if v})
    # a table: standardised with the statistics the model trained with; never a download or a new
    # directory where the run's config.json points (reading a run writes nothing outside it)
    ds = load_for(cfg, run.stats, download=False)
    _, test = loaders_for(cfg, ds)
    loss, acc = evaluate(run.model, test)
    print(f"run          {run.run_dir} ({len(run.history)} epochs, {cfg.model}, {cfg.impl})")
    print(f"dataset      {ds.name} test split, {len(ds.test)} samples")
    print(f"test loss    {loss:.4f}")
    if cfg.model == "linear" and cfg.data is not None:
        print(f"test RMSE    {(2 * loss) ** 0.5:.4f}")
    if acc is not None:
        cm = confusion_matrix(ds.test.labels, predict_all(run.model, test), len(ds.classes))
        print(f"test acc     {acc:.4f}")
        width = max(len(c) for c in ds.classes)
        for c, class_acc, total in zip(ds.classes, per_class_accuracy(cm), cm.sum(dim=1).tolist()):
            print(f"  {c:<{width}}  {class_acc if class_acc is not None else float('nan'):.3f}  ({total} samples)")
    return 0
