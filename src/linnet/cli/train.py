"""`linnet train`: a new run into runs/<name>/, or `--resume RUN_DIR` to continue one."""
from __future__ import annotations

import dataclasses
import importlib
import os
import sys

from linnet.cli.common import config_from_args, track_given
from linnet.config import CHANNELS, DEVICES, IMPLS, MODELS, SOLVERS, TRAIN_DATASETS, TrainConfig


def size(text: str) -> int | tuple[int, int]:
    """--resize 28 or 28x32 (height x width); the range is checked with the other settings (TrainConfig)."""
    import argparse
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2):
        raise argparse.ArgumentTypeError(f"expected H or HxW (integers), got {text!r}")
    return parts[0] if len(parts) == 1 else (parts[0], parts[1])


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train softmax or linear regression into a run directory")
    p.add_argument("--model", choices=MODELS, default=TrainConfig.model,
                   help="softmax: softmax regression (classes); linear: linear regression")
    p.add_argument("--impl", choices=IMPLS, default=TrainConfig.impl,
                   help="fast: manual gradient (default); scratch: autograd; concise: torch.nn")
    p.add_argument("--solver", choices=SOLVERS, default=TrainConfig.solver,
                   help="sgd: minibatch SGD; lbfgs: the convex optimum in one full-batch solve")
    p.add_argument("--dataset", choices=TRAIN_DATASETS, help="default: fashion-mnist (softmax), synthetic (linear)")
    p.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw) "
                                      "(default: $LINNET_DATA/<dataset>, else the per-user cache)")
    p.add_argument("--data", metavar="PATH",
                   help="your own data: an image folder (PATH/<class>/*.png or PATH/train|test/<class>/...), "
                        "a table (.csv, .parquet) or arrays (.npz) (default: none, a named --dataset)")
    p.add_argument("--label", metavar="COLUMN", help="with --data TABLE: the label column (default: the last)")
    p.add_argument("--channels", type=int, choices=CHANNELS, default=TrainConfig.channels,
                   help="with --data FOLDER: 1 grey (default) or 3 RGB")
    p.add_argument("--test-fraction", type=float, default=TrainConfig.test_fraction,
                   help="with --data and no test part: share held out per class (default 0.2, seeded by --seed)")
    p.add_argument("--epochs", type=int, help="default 10 (digits 20, synthetic 3); with --resume: epochs to add "
                                               "(without it, --resume finishes the run's planned epochs)")
    p.add_argument("--batch-size", type=int, help="default 256 (digits 16, synthetic 10)")
    p.add_argument("--lr", type=float, help="learning rate, default 0.1 (synthetic 0.03)")
    p.add_argument("--lr-decay", type=float, metavar="GAMMA",
                   help="multiply the lr by GAMMA every --lr-step epochs (default: none, a constant lr)")
    p.add_argument("--lr-step", type=int, default=TrainConfig.lr_step, help="epochs between two lr decays")
    p.add_argument("--weight-decay", type=float, default=TrainConfig.weight_decay, help="L2 penalty on the weights")
    p.add_argument("--seed", type=int, default=TrainConfig.seed, help="initial weights and the shuffling of every epoch")
    p.add_argument("--resize", type=size, metavar="H[xW]",
                   help="resize images to H x W (default: native; for --data folders the most common size)")
    p.add_argument("--mmap", action="store_true",
                   help="memory-map uncompressed IDX files (gunzip them first): train on sets larger than memory")
    p.add_argument("--device", choices=DEVICES, default=TrainConfig.device, help="auto: a GPU when torch sees one")
    p.add_argument("--no-plots", dest="plots", action="store_false",
                   help="draw no figures (sweeps): metrics, checkpoint and report only")
    p.add_argument("--runs-dir", default=TrainConfig.runs_dir, help="where run directories are made")
    p.add_argument("--name", help="run directory name (default: <model>-<dataset>-<time>)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue this run from its last checkpoint, to its planned epoch count; --lr, --lr-decay, "
                        "--lr-step, --weight-decay apply from there (recorded in config.json); the data, model, "
                        "impl, batch size, resize and seed are the run's own (default: a new run)")
    p.add_argument("--tensorboard", nargs="?", const="", metavar="DIR",
                   help="log curves and weight images for TensorBoard: into RUN_DIR/tensorboard, or DIR/<run name> "
                        "(needs linnet[tensorboard]; default: off)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")
    p.add_argument("--threads", type=int, metavar="N",
                   help="exactly N threads for the products (default: measured, 1 or all; or OMP_NUM_THREADS)")
    p.add_argument("--nproc", type=int, metavar="N",
                   help="data-parallel training in N processes on this host (torchrun's launcher; for several "
                        "hosts run torchrun yourself, see the README; default: one process)")
    p.set_defaults(run=run)
    track_given(p)


def run(args) -> int:
    cfg = config_from_args(TrainConfig, args)
    if (args.nproc or 1) > 1 and cfg.solver == "lbfgs":
        from linnet.errors import ConfigError
        raise ConfigError(f"--solver lbfgs solves the full batch in one process; leave out --nproc. Got --nproc {args.nproc}.")
    if args.nproc is not None and args.nproc != 1:   # --nproc 1: this process is the one
        from linnet.launch import launch, without_nproc
        return launch(args.nproc, without_nproc(args.argv))
    if not args.quiet and not args.resume and sys.stderr.isatty() and os.environ.get("RANK", "0") == "0":
        print(f"loading {cfg.resolved('dataset')} ...", file=sys.stderr, flush=True)   # torch takes seconds to import
    if not args.resume and cfg.data is None:  # IDX files are read while torch is imported (both take a core a while)
        from linnet.data.sources import read_ahead
        read_ahead(cfg.resolved("dataset"), cfg.data_dir, cfg.mmap)
    from linnet.collector import gc_paused
    with gc_paused(freeze=True):   # torch and the modules of a run: two full collections otherwise (0.02-0.07 s each)
        from linnet import distributed
        importlib.import_module("linnet.experiment")
    parallel = distributed.from_env(cfg.solver)   # None unless started by torchrun with 2 or more processes
    if parallel is None:
        return _train(args, cfg, None)
    return distributed.run_rank(parallel, lambda: _train(args, cfg, parallel))


def _train(args, cfg: TrainConfig, parallel) -> int:
    from linnet import experiment
    if args.resume:
        given = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig) if f.name in args.given}
        result = experiment.resume(args.resume, epochs=given.pop("epochs", None), quiet=args.quiet,
                                   announce=print_result, parallel=parallel, **given)
    else:
        result = experiment.train(cfg, quiet=args.quiet, announce=print_result, parallel=parallel)
    print(f"report: {result.run_dir / 'report.html'}")
    return 0


def print_result(s: dict, run_dir) -> None:
    """The final lines, printed as soon as training is done (the figures are drawn after them)."""
    from linnet.humanize import count, number, seconds
    took = f"({count(s['epochs'], 'epoch')}, {seconds(s['train_seconds'])})"
    if "test_rmse" in s:  # linear regression on a table: the error in the target's own units
        print(f"final: train loss {number(s['train_loss'])}  test loss {number(s['test_loss'])}  "
              f"test RMSE {number(s['test_rmse'])}  {took}")
    elif s["model"] == "linear":
        w_err = ", ".join(f"{e:+.4f}" for e in s["w_error"])
        print(f"error in w: [{w_err}]  error in b: {s['b_error']:+.4f}  (true w = [2, -3.4], b = 4.2)")
    else:
        print(f"final: train loss {number(s['train_loss'])}  train acc {s['train_acc']:.3f}  "
              f"test acc {s['test_acc']:.3f}  {took}")
    print(f"run directory: {run_dir}", flush=True)
