"""The `linnet` command: argparse subcommands, each building its frozen config and calling the API.

Errors a user can cause (LinnetError) end as one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from pathlib import Path

from linnet.config import TRAIN_DATASETS, DataConfig, TrainConfig
from linnet.data.sources import DATASETS
from linnet.errors import LinnetError


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (the run directory keeps its last complete epoch)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=DATASETS, default=DataConfig.dataset)
    p.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw)")
    p.add_argument("--resize", type=int, help="resize images to RESIZE x RESIZE")


def cmd_data(cfg: DataConfig) -> int:
    import torch

    from linnet.data.loader import Loader, timed_pass
    from linnet.data.sources import load_dataset
    from linnet.plots import save_figure, show_images

    ds = load_dataset(cfg.dataset, cfg.data_dir, progress=sys.stderr.isatty())
    train = Loader(ds.train, cfg.batch_size, shuffle=True, seed=cfg.seed, resize=cfg.resize)
    c, h, w = (1, *train.resize) if train.resize else ds.image_shape
    print(f"dataset      {ds.name}")
    print(f"train        {len(ds.train)} images")
    print(f"test         {len(ds.test)} images")
    print(f"image shape  {c}x{h}x{w} (float32 in [0, 1])")
    train_counts = torch.bincount(ds.train.labels, minlength=len(ds.classes))
    test_counts = torch.bincount(ds.test.labels, minlength=len(ds.classes))
    width = max(len(name) for name in ds.classes)
    print(f"{'label':>5}  {'class':<{width}}  {'train':>7}  {'test':>6}")
    for i, name in enumerate(ds.classes):
        print(f"{i:>5}  {name:<{width}}  {int(train_counts[i]):>7}  {int(test_counts[i]):>6}")
    seconds = timed_pass(train)
    print(f"one pass     {len(train)} minibatches of {cfg.batch_size} in {seconds:.3f} s")
    if cfg.grid:
        X, y = next(iter(Loader(ds.train, 18, shuffle=True, seed=cfg.seed, resize=cfg.resize)))
        Path(cfg.grid).parent.mkdir(parents=True, exist_ok=True)
        save_figure(show_images(X, 2, 9, titles=ds.text_labels(y)), cfg.grid)
        print(f"grid         {cfg.grid}")
    return 0


def cmd_train(cfg: TrainConfig, args: argparse.Namespace) -> int:
    from linnet import experiment
    if args.resume:
        result = experiment.resume(args.resume, epochs=cfg.epochs, quiet=args.quiet,
                                   data_dir=cfg.data_dir, device=None if cfg.device == "auto" else cfg.device)
    else:
        result = experiment.train(cfg, quiet=args.quiet)
    s = result.summary
    if s["model"] == "linear":
        w_err = ", ".join(f"{e:+.4f}" for e in s["w_error"])
        print(f"error in w: [{w_err}]  error in b: {s['b_error']:+.4f}  (true w = [2, -3.4], b = 4.2)")
    else:
        print(f"final: train loss {s['train_loss']:.4f}  train acc {s['train_acc']:.3f}  "
              f"test acc {s['test_acc']:.3f}  ({s['epochs']} epochs, {s['train_seconds']:.2f} s)")
    print(f"run directory: {result.run_dir}")
    print(f"report: {result.run_dir / 'report.html'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from linnet.experiment import load_for, load_run, loaders_for
    from linnet.metrics import confusion_matrix, per_class_accuracy
    from linnet.train import evaluate, predict_all
    run = load_run(args.run_dir)
    cfg = dataclasses.replace(run.config, **{k: v for k, v in (("dataset", args.dataset), ("data_dir", args.data_dir)) if v})
    ds = load_for(cfg)
    _, test = loaders_for(cfg, ds)
    loss, acc = evaluate(run.model, test)
    print(f"run          {run.run_dir} ({len(run.history)} epochs, {cfg.model}, {cfg.impl})")
    print(f"dataset      {ds.name} test split, {len(ds.test)} samples")
    print(f"test loss    {loss:.4f}")
    if acc is not None:
        cm = confusion_matrix(ds.test.labels, predict_all(run.model, test), len(ds.classes))
        print(f"test acc     {acc:.4f}")
        width = max(len(c) for c in ds.classes)
        for c, class_acc, total in zip(ds.classes, per_class_accuracy(cm), cm.sum(dim=1).tolist()):
            print(f"  {c:<{width}}  {class_acc if class_acc is not None else float('nan'):.3f}  ({total} samples)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
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
    from linnet.errors import ConfigError
    from linnet.experiment import load_run
    run = load_run(run_dir)
    if run.config.model != "softmax" or run.input_hw is None:
        raise ConfigError(f"{run_dir}: predict needs a softmax-regression run on images")
    return run


def cmd_losses(args: argparse.Namespace) -> int:
    from linnet.plots import plot_losses, save_figure
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_figure(plot_losses(), args.out)
    print(f"losses figure: {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linnet", description="Linear neural networks: data, training, plots.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="describe a dataset, time one pass, save an image grid")
    _add_data_args(p)
    p.add_argument("--batch-size", type=int, default=DataConfig.batch_size)
    p.add_argument("--grid", metavar="FILE.png", help="save a 2 x 9 grid of training images")
    p.add_argument("--seed", type=int, default=DataConfig.seed)
    p.set_defaults(config=DataConfig, run=cmd_data)

    p = sub.add_parser("train", help="train softmax or linear regression into a run directory")
    p.add_argument("--model", choices=("softmax", "linear"), default=TrainConfig.model)
    p.add_argument("--impl", choices=("fast", "scratch", "concise"), default=TrainConfig.impl,
                   help="fast: manual gradient (default); scratch: autograd; concise: torch.nn")
    p.add_argument("--solver", choices=("sgd", "lbfgs"), default=TrainConfig.solver)
    p.add_argument("--dataset", choices=TRAIN_DATASETS, help="default: fashion-mnist (softmax), synthetic (linear)")
    p.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw)")
    p.add_argument("--epochs", type=int, help="default 10 (digits 20, synthetic 3); with --resume: epochs to add")
    p.add_argument("--batch-size", type=int, help="default 256 (digits 16, synthetic 10)")
    p.add_argument("--lr", type=float, help="learning rate, default 0.1 (synthetic 0.03)")
    p.add_argument("--lr-decay", type=float, metavar="GAMMA", help="multiply the lr by GAMMA every --lr-step epochs")
    p.add_argument("--lr-step", type=int, default=TrainConfig.lr_step)
    p.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay, help="L2 penalty on the weights")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--resize", type=int, help="resize images to RESIZE x RESIZE")
    p.add_argument("--mmap", action="store_true",
                   help="memory-map uncompressed IDX files (gunzip them first): train on sets larger than memory")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=TrainConfig.device)
    p.add_argument("--runs-dir", default=TrainConfig.runs_dir)
    p.add_argument("--name", help="run directory name (default: <model>-<dataset>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")
    p.set_defaults(config=TrainConfig, run=cmd_train)

    p = sub.add_parser("evaluate", help="test loss, accuracy and per-class accuracy of a run")
    p.add_argument("run_dir")
    p.add_argument("--dataset", choices=TRAIN_DATASETS)
    p.add_argument("--data-dir")
    p.set_defaults(config=None, run=cmd_evaluate)

    p = sub.add_parser("predict", help="top-3 classes for image files (PNG, JPEG...)")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+")
    p.set_defaults(config=None, run=cmd_predict)

    p = sub.add_parser("losses", help="draw the L2 / L1 / Huber losses and LogSumExp figure")
    p.add_argument("--out", required=True, metavar="FILE.png")
    p.set_defaults(config=None, run=cmd_losses)
    return parser


def config_from_args(config_cls, args: argparse.Namespace):
    """Build the command's frozen config from the flags of the same names."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(args).items() if k in names})


def main(argv: list[str] | None = None) -> int:
    from linnet.experiment import RunInterrupted
    from linnet.train import TrainingDiverged
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.config is None:
            return args.run(args)
        cfg = config_from_args(args.config, args)
        return args.run(cfg, args) if args.config is TrainConfig else args.run(cfg)
    except TrainingDiverged as exc:
        print(f"linnet {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except LinnetError as exc:
        print(f"linnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RunInterrupted as exc:
        print(f"linnet {args.command}: {exc}", file=sys.stderr)
        return 143 if exc.signal_name == "Terminated" else 130
    except BrokenPipeError:  # `linnet ... | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt as exc:
        print(f"linnet {args.command}: interrupted", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> None:
    """The `linnet` console script: main(), then exit without tearing the interpreter down.

    By then everything main() wrote is closed (atomic writes, context managers); what is left is
    freeing torch's modules, ~0.3 s measured here, a tenth of a whole `linnet train`. An exception
    out of main() still takes the normal way (traceback, teardown)."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left, a closed stream: nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
