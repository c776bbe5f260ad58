"""`linnet data`: sizes, shape and class counts of a dataset, one timed pass, an image grid."""
from __future__ import annotations

import sys
from pathlib import Path

from linnet.cli.common import config_from_args
from linnet.config import DataConfig
from linnet.data.sources import DATASETS


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="describe a dataset, time one pass, save an image grid")
    p.add_argument("--dataset", choices=DATASETS, default=DataConfig.dataset)
    p.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw)")
    p.add_argument("--resize", type=int, help="resize images to RESIZE x RESIZE")
    p.add_argument("--batch-size", type=int, default=DataConfig.batch_size)
    p.add_argument("--grid", metavar="FILE.png", help="save a 2 x 9 grid of training images")
    p.add_argument("--seed", type=int, default=DataConfig.seed)
    p.set_defaults(run=run)


def run(args) -> int:
    cfg = config_from_args(DataConfig, args)
    import torch

    from linnet.data.loader import Loader, timed_pass
    from linnet.data.sources import load_dataset

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
        from linnet.plots import save_figure, show_images
        X, y = next(iter(Loader(ds.train, 18, shuffle=True, seed=cfg.seed, resize=cfg.resize)))
        Path(cfg.grid).parent.mkdir(parents=True, exist_ok=True)
        save_figure(show_images(X, 2, 9, titles=ds.text_labels(y)), cfg.grid)
        print(f"grid         {cfg.grid}")
    return 0
