"""`linnet data`: sizes, shape and class counts of a dataset, one timed pass, an image grid."""
from __future__ import annotations

import sys
from pathlib import Path

from linnet.cli.common import config_from_args
from linnet.config import CHANNELS, DataConfig
from linnet.data.sources import DATASETS


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="describe a dataset, time one pass, save an image grid")
    p.add_argument("--dataset", choices=DATASETS, help=f"default: {DataConfig.dataset}")
    p.add_argument("--data", metavar="PATH",
                   help="your own data: an image folder, a table (.csv, .parquet) or .npz (default: none, a named --dataset)")
    p.add_argument("--label", metavar="COLUMN", help="with --data TABLE: the label column (default: the last)")
    p.add_argument("--channels", type=int, choices=CHANNELS, default=DataConfig.channels,
                   help="with --data FOLDER: 1 grey or 3 RGB")
    p.add_argument("--test-fraction", type=float, default=DataConfig.test_fraction,
                   help="with --data and no test part: share held out per class")
    p.add_argument("--data-dir", help="directory holding the four IDX files (.gz or raw) "
                                      "(default: $LINNET_DATA/<dataset>, else the per-user cache)")
    p.add_argument("--resize", type=int, help="resize images to RESIZE x RESIZE (default: native size)")
    p.add_argument("--batch-size", type=int, default=DataConfig.batch_size, help="batch size of the timed pass")
    p.add_argument("--grid", metavar="FILE.png", help="save a 2 x 9 grid of training images (default: none)")
    p.add_argument("--seed", type=int, default=DataConfig.seed, help="the shuffling of the pass and the grid")
    p.set_defaults(run=run)


def run(args) -> int:
    if args.dataset is None and args.data is None:
        args.dataset = DataConfig.dataset
    cfg = config_from_args(DataConfig, args)
    if cfg.grid is not None:  # before the work: a path that cannot be written is said at once
        from linnet.atomic import check_output_path
        check_output_path("grid", cfg.grid)
    import torch

    from linnet.data.loader import Loader, timed_pass
    from linnet.data.sources import load_dataset

    if cfg.data is not None:  # a folder is decoded at --resize; a table has no pixels to resize
        ds = load_dataset(path=cfg.data, label=cfg.label, channels=cfg.channels, resize=cfg.resize,
                          test_fraction=cfg.test_fraction, seed=cfg.seed)
        for note in ds.notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        ds = load_dataset(cfg.dataset, cfg.data_dir, progress=sys.stderr.isatty())
    train = Loader(ds.train, cfg.batch_size, shuffle=True, seed=cfg.seed, resize=cfg.resize if cfg.data is None else None)
    what = "images" if ds.is_images else "rows"
    print(f"dataset      {ds.name}")
    print(f"train        {len(ds.train)} {what}")
    print(f"test         {len(ds.test)} {what}")
    if ds.is_images:
        c, h, w = (ds.image_shape[0], *train.resize) if train.resize else ds.image_shape
        print(f"image shape  {c}x{h}x{w} (float32 in [0, 1])")
    else:
        print(f"features     {len(ds.features)} (standardised with the training split's mean and std)")
    train_counts = torch.bincount(ds.train.labels, minlength=len(ds.classes))
    test_counts = torch.bincount(ds.test.labels, minlength=len(ds.classes))
    width = max(len(name) for name in ds.classes)
    print(f"{'label':>5}  {'class':<{width}}  {'train':>7}  {'test':>6}")
    for i, name in enumerate(ds.classes):
        print(f"{i:>5}  {name:<{width}}  {int(train_counts[i]):>7}  {int(test_counts[i]):>6}")
    seconds = timed_pass(train)
    print(f"one pass     {len(train)} minibatches of {cfg.batch_size} in {seconds:.3f} s")
    if cfg.grid and ds.is_images:
        from linnet.plots import save_figure, show_images
        X, y = next(iter(Loader(ds.train, 18, shuffle=True, seed=cfg.seed, resize=cfg.resize)))
        from linnet.atomic import make_parent
        save_figure(show_images(X, 2, 9, titles=ds.text_labels(y)), make_parent(Path(cfg.grid).expanduser()))
        print(f"grid         {cfg.grid}")
    return 0
