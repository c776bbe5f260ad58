"""`linnet predict RUN_DIR IMAGE...`: the top-3 classes of ordinary image files (PNG, JPEG...)."""
from __future__ import annotations

import sys

from linnet.errors import ConfigError, LinnetError


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="top-3 classes for image files (PNG, JPEG...)")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+")
    p.set_defaults(run=run)


def run(args) -> int:
    from linnet.images import load_image
    run = load_run_for_predict(args.run_dir)
    failures = 0
    for path in args.images:
        try:
            x = load_image(path, run.input_hw)
        except LinnetError as exc:
            print(f"linnet predict: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        probs = run.model.forward(x[None]).softmax(dim=1)[0]
        top = probs.topk(min(3, len(probs)))
        ranked = ", ".join(f"{run.classes[int(i)]} {float(p):.3f}" for p, i in zip(top.values, top.indices))
        print(f"{path}: {ranked}")
    return 2 if failures else 0


def load_run_for_predict(run_dir):
    from linnet.experiment import load_run
    run = load_run(run_dir)
    if run.config.model != "softmax" or run.input_hw is None:
        raise ConfigError(f"{run_dir}: predict needs a softmax-regression run on images")
    return run
