"""The `linnet` command: argparse subcommands, each building its frozen config and calling the API.

Errors a user can cause (LinnetError) end as one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from linnet.config import DataConfig
from linnet.data.sources import DATASETS
from linnet.errors import LinnetError


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linnet", description="Linear neural networks: data, training, plots.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="describe a dataset, time one pass, save an image grid")
    _add_data_args(p)
    p.add_argument("--batch-size", type=int, default=DataConfig.batch_size)
    p.add_argument("--grid", metavar="FILE.png", help="save a 2 x 9 grid of training images")
    p.add_argument("--seed", type=int, default=DataConfig.seed)
    p.set_defaults(config=DataConfig, run=cmd_data)
    return parser


def config_from_args(config_cls, args: argparse.Namespace):
    """Build the command's frozen config from the flags of the same names."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(args).items() if k in names})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args.config, args)
        return args.run(cfg)
    except LinnetError as exc:
        print(f"linnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"linnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
