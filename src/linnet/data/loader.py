"""Minibatches from resident uint8 tensors: shuffled by a seeded generator, floats in [0, 1].

The whole split stays in memory as uint8 (1 byte a pixel, a quarter of float32); each batch is
gathered and converted on the fly. `load_data_fashion_mnist` is the chapter's entry point.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from linnet.data.convert import to_float
from linnet.data.dataset import Dataset, Split
from linnet.data.sources import load_dataset
from linnet.checks import check_size
from linnet.errors import ConfigError


def parse_resize(resize: int | tuple[int, int] | None) -> tuple[int, int] | None:
    return check_size("resize", resize)


def contiguous_share(n: int, rank: int, world_size: int) -> slice:
    """Rank `rank`'s rows of n: a contiguous slice; sizes differ by at most one (possibly zero rows).
    How linnet.distributed cuts each minibatch between processes (Loader.batch_indices' shard)."""
    return slice(n * rank // world_size, n * (rank + 1) // world_size)


@dataclass
class Loader:
    """Iterable of (X float (B, C, H, W), y int64 (B,)) minibatches over one resident split (C = 1 but
    for RGB image folders).

    Splits of float features (synthetic regression data) are batched as they are.

    Each iteration is one epoch. With shuffle, epoch e of a loader seeded s always yields the same
    batches, whatever happened before: the permutation comes from a generator seeded (s, e).
    """
    split: Split
    batch_size: int
    shuffle: bool = False
    seed: int = 0
    resize: tuple[int, int] | None = None
    drop_last: bool = False
    epoch: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"The 'batch_size' parameter must be an int >= 1. Got {self.batch_size!r}.")
        if not self.drop_last:  # a batch larger than the split is the whole split: buffers sized by the data
            self.batch_size = min(self.batch_size, max(1, len(self.split)))
        self.resize = parse_resize(self.resize)

    def __len__(self) -> int:
        n = len(self.split)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """The sample indices of epoch `epoch`'s batches, concatenated: shuffled by a generator seeded
        (seed, epoch), whatever came before. The compiled kernel of linnet.models.fast walks them directly."""
        n = len(self.split)
        if self.shuffle:
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 1_000_003 + epoch))
        else:
            order = torch.arange(n)
        return order[:n - n % self.batch_size] if self.drop_last else order

    def batch_indices(self, epoch: int, shard: tuple[int, int] | None = None) -> Iterator[torch.Tensor | slice]:
        """epoch_order cut into minibatches; in natural order as slices (views, no gather).

        shard=(rank, world_size): only that rank's contiguous part of each minibatch (linnet.distributed).
        """
        order, bs = self.epoch_order(epoch), self.batch_size
        for start in range(0, len(order), bs):
            stop = min(start + bs, len(order))
            if shard is not None:
                part = contiguous_share(stop - start, *shard)
                start, stop = start + part.start, start + part.stop
            yield order[start:stop] if self.shuffle else slice(start, stop)

    def epoch_batches(self, epoch: int, raw: bool = False,
                      shard: tuple[int, int] | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The batches of one given epoch; uint8 images become floats, other features pass as they are.

        raw=True yields uint8 images (B, H, W) unconverted, for models that fold the 1/255 into their
        arithmetic (linnet.models.fast); it is ignored when a resize is asked for. With a shard, each
        batch is that rank's part: only its rows are read (resident or memory-mapped).
        """
        images, labels = self.split.images, self.split.labels
        convert = images.dtype == torch.uint8 and not (raw and self.resize is None)
        for idx in self.batch_indices(epoch, shard):
            if isinstance(idx, slice):
                X, y = images[idx], labels[idx]
            else:  # index_select: a plain row gather, 20x faster than advanced indexing on (N, H, W)
                X, y = images.index_select(0, idx), labels.index_select(0, idx)
            yield (to_float(X, self.resize) if convert else X), y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        return self.epoch_batches(epoch)


def timed_pass(loader: Loader) -> float:
    """Seconds for one full pass over the loader (the chapter's 'time to read the data')."""
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def load_data(dataset: Dataset, batch_size: int, resize=None, seed: int = 0) -> tuple[Loader, Loader]:
    """(train, test) loaders: the training one shuffled, the test one in order."""
    return (Loader(dataset.train, batch_size, shuffle=True, seed=seed, resize=resize),
            Loader(dataset.test, batch_size, shuffle=False, resize=resize))


def load_data_fashion_mnist(batch_size: int, resize=None, data_dir: str | os.PathLike | None = None,
                            seed: int = 0, dataset: str = "fashion-mnist") -> tuple[Loader, Loader]:
    """The chapter's loader: Fashion-MNIST (downloaded once) as (train_iter, test_iter)."""
    return load_data(load_dataset(dataset, data_dir), batch_size, resize=resize, seed=seed)
