"""`linnet predict RUN_DIR INPUT... [--top-k K] [--json]`: the top classes of ordinary image files
(PNG, JPEG...) or of every image in a directory (sorted by name); `linnet predict RUN_DIR rows.csv
[--out predictions.csv]` for a run on a table (linnet.tablepredict)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from linnet.checks import check_int
from linnet.errors import ConfigError, LinnetError

# what a directory given to predict is searched for (not recursive); files named one by one may be anything PIL reads
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="top classes of image files or directories; or a table's rows for a run on a table")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("images", nargs="+", metavar="INPUT",
                   help="image files (PNG, JPEG...) or directories of them, or one table (.csv, .parquet, .npz) "
                        "for a run on a table")
    p.add_argument("--top-k", type=int, default=3, metavar="K", help="how many classes to show per image")
    p.add_argument("--json", action="store_true", help="print one JSON list (one object per input) instead of lines")
    p.add_argument("--out", metavar="FILE.csv", help="a run on a table: write the predictions here (default: print)")
    p.set_defaults(run=run)


def image_inputs(inputs: list[str]) -> list[tuple[str, str | None]]:
    """Each input as given, a directory replaced by its image files sorted by name (not recursive):
    (path, None), or (directory, why it gives nothing) for a directory without images."""
    found = []
    for text in inputs:
        path = Path(text)
        if not path.is_dir():
            found.append((text, None))
            continue
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not images:
            found.append((text, f"{path}: the directory holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})"))
        found += [(str(p), None) for p in images]
    return found


def run(args) -> int:
    check_int("top_k", args.top_k, 1)
    if args.out:  # before the work: a path that cannot be written is said at once
        from linnet.atomic import check_output_path
        check_output_path("out", args.out)
    run = load_run_for_predict(args.run_dir)
    if run.input_hw is None:
        return _predict_table(run, args)
    if args.out:
        raise ConfigError("The 'out' option writes a table run's predictions; for images they are printed.")
    results, failures = [], 0
    for path, problem in image_inputs(args.images):
        try:
            if problem is not None:
                raise ConfigError(problem)
            x = _load(run, path)
        except LinnetError as exc:   # one bad input is reported; the others are still predicted
            failures += 1
            if args.json:
                results.append({"input": path, "error": str(exc)})
            else:
                print(f"linnet predict: error: {exc}", file=sys.stderr)
            continue
        probs = run.model.forward(x[None]).softmax(dim=1)[0]                  # (1, d) -> (1, k) -> (k,)
        top = probs.topk(min(args.top_k, len(probs)))
        ranked = [{"class": run.classes[int(i)], "prob": float(p)} for p, i in zip(top.values, top.indices)]
        if args.json:
            results.append({"input": path, "top": ranked})
        else:
            print(f"{path}: " + ", ".join(f"{r['class']} {r['prob']:.3f}" for r in ranked), flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
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
    if args.json:
        raise ConfigError("The 'json' option is for image runs; a table run's predictions are CSV (--out FILE.csv).")
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
