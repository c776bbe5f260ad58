"""`linnet predict RUN_DIR IMAGE...`: the top-3 classes of ordinary image files (PNG, JPEG...);
`linnet predict RUN_DIR rows.csv [--out predictions.csv]` for a run on a table (linnet.tablepredict)."""
from __future__ import annotations

import sys

from linnet.errors import ConfigError, LinnetError


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="top-3 classes for image files; or a table's rows for a run on a table")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+", metavar="INPUT",
                   help="image files (PNG, JPEG...), or one table (.csv, .parquet, .npz) for a run on a table")
    p.add_argument("--out", metavar="FILE.csv", help="a run on a table: write the predictions here (default: print)")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.out:  # before the work: a path that cannot be written is said at once
        from linnet.atomic import check_output_path
        check_output_path("out", args.out)
    run = load_run_for_predict(args.run_dir)
    if run.input_hw is None:
        return _predict_table(run, args)
    if args.out:
        raise ConfigError("The 'out' option writes a table run's predictions; for images they are printed.")
    failures = 0
    for path in args.images:
        try:
            x = _load(run, path)
        except LinnetError as exc:
            print(f"linnet predict: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        probs = run.model.forward(x[None]).softmax(dim=1)[0]
        top = probs.topk(min(3, len(probs)))
        ranked = ", ".join(f"{run.classes[int(i)]} {float(p):.3f}" for p, i in zip(top.values, top.indices))
        print(f"{path}: {ranked}")
    return 2 if failures else 0


def _load(run, path):
    """One image as the run's training images were made: a folder's own way, else Fashion-MNIST's look."""
    if run.config.data is not None:
        from linnet.data.folders import load_image_for
        return load_image_for(path, run.channels or 1, run.input_hw)
    from linnet.images import load_image
    return load_image(path, run.input_hw)


def _predict_table(run, args) -> int:
    from linnet.tablepredict import write_predictions
    if len(args.images) != 1:
        raise ConfigError(f"{args.run_dir} was trained on a table: give one table of rows to predict, "
                          f"got {len(args.images)} inputs")
    text = write_predictions(run, args.images[0], args.out)
    if args.out:
        print(f"predictions: {args.out} ({text.count(chr(10)) - 1} rows)")
    else:
        sys.stdout.write(text)
    return 0


def load_run_for_predict(run_dir):
    from linnet.restore import load_run
    run = load_run(run_dir)
    if run.input_hw is None and not run.features:
        raise ConfigError(f"{run_dir}: predict needs a softmax-regression run on images, or a run on a table; this one trained on synthetic data")
    if run.config.model != "softmax" and run.input_hw is not None:
        raise ConfigError(f"{run_dir}: predict needs a softmax-regression run on images")
    return run
