"""The data of a run: its dataset from the run's settings, its loaders, and the input size the model sees.

Shared by a new run, a resumed one (experiment), the other ranks of a data-parallel run
(distributed) and the commands that read a run back (evaluate, export).
"""
from __future__ import annotations

import sys

from linnet.checks import check_size
from linnet.config import TrainConfig
from linnet.data.dataset import Dataset, Split
from linnet.data.loader import Loader
from linnet.data.sources import load_dataset
from linnet.data.synthetic import TRUE_B, TRUE_W, synthetic_data


def synthetic_dataset(seed: int) -> Dataset:
    """The chapter's 1000 samples of y = Xw + b + noise (w = [2, -3.4], b = 4.2), plus 200 held out."""
    train = synthetic_data(TRUE_W, TRUE_B, 1000, seed=seed)
    test = synthetic_data(TRUE_W, TRUE_B, 200, seed=seed + 1_000_000)
    return Dataset("synthetic", Split(*train), Split(*test), classes=())


def load_for(cfg: TrainConfig, stats: dict | None = None, download: bool = True) -> Dataset:
    """The run's data; `stats`: a trained run's standardisation statistics for --data tables.
    download=False (reading a finished run: evaluate): missing files are an error, and nothing is
    created or fetched wherever a run's config.json points."""
    if cfg.data is not None:
        return load_dataset(path=cfg.data, label=cfg.label, task="regress" if cfg.model == "linear" else "classify",
                            channels=cfg.channels, resize=check_size("resize", cfg.resize),
                            test_fraction=cfg.test_fraction, seed=cfg.seed, stats=stats)
    name = cfg.resolved("dataset")
    if name == "synthetic":
        return synthetic_dataset(cfg.seed)
    return load_dataset(name, cfg.data_dir, download=download, progress=sys.stderr.isatty(), mmap=cfg.mmap)


def loaders_for(cfg: TrainConfig, ds: Dataset) -> tuple[Loader, Loader]:
    """(train, test) loaders of a run: training shuffled by the run's seed; testing in order, in
    blocks of at least 1024 (evaluation has no step to take between batches)."""
    bs = cfg.resolved("batch_size")
    resize = None if cfg.data is not None else cfg.resize  # --data folders are decoded at their size
    return (Loader(ds.train, bs, shuffle=True, seed=cfg.seed, resize=resize),
            Loader(ds.test, max(bs, 1024), shuffle=False, resize=resize))


def input_hw(cfg: TrainConfig, ds: Dataset) -> tuple[int, int] | None:
    """(H, W) the model sees, None for feature vectors."""
    if not ds.is_images:
        return None
    if cfg.resize and cfg.data is None:
        return check_size("resize", cfg.resize)
    return tuple(ds.train.images.shape[-2:])


def num_inputs(cfg: TrainConfig, ds: Dataset) -> int:
    hw = input_hw(cfg, ds)
    return ds.train.images.shape[1] if hw is None else ds.image_shape[0] * hw[0] * hw[1]
