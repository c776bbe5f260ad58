"""Minibatch loader: each sample once per epoch, seeded shuffles, float conversion, resize, checks."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from conftest import write_fake_dataset
from linnet.data.loader import Loader, load_data, load_data_fashion_mnist, parse_resize, timed_pass, to_float
from linnet.data.dataset import Split
from linnet.errors import ConfigError


def indexed_split(n: int = 50, h: int = 6, w: int = 5) -> Split:
    """Image i is filled with the value i (n <= 256), its label is i % 10: a batch tells its indices."""
    images = torch.arange(n, dtype=torch.uint8).reshape(n, 1, 1).expand(n, h, w).contiguous()
    return Split(images, torch.arange(n) % 10)


def indices_of(X: torch.Tensor) -> list[int]:
    """Recover the sample indices from a float batch of an indexed split."""
    return (X[:, 0, 0, 0] * 255).round().to(torch.int64).tolist()


def epoch_order(loader: Loader) -> list[int]:
    out = []
    for X, y in loader:
        idx = indices_of(X)
        assert y.tolist() == [i % 10 for i in idx]  # labels travel with their images
        out += idx
    return out


def test_every_sample_once_per_epoch_in_a_new_order():
    loader = Loader(indexed_split(50), 8, shuffle=True, seed=3)
    orders = [epoch_order(loader) for _ in range(3)]
    for order in orders:
        assert sorted(order) == list(range(50))
    assert orders[0] != list(range(50))
    assert orders[0] != orders[1] and orders[1] != orders[2]
    assert loader.epoch == 3


def test_same_seed_same_batches_different_seed_different():
    split = indexed_split(50)
    a, b, c = (Loader(split, 8, shuffle=True, seed=s) for s in (7, 7, 8))
    for _ in range(2):
        batches_a, batches_b, batches_c = list(a), list(b), list(c)
        assert len(batches_a) == len(batches_b) == 7
        for (xa, ya), (xb, yb) in zip(batches_a, batches_b):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
        assert torch.cat([x for x, _ in batches_a]).ne(torch.cat([x for x, _ in batches_c])).any()


def test_epoch_order_does_not_depend_on_history():
    split = indexed_split(30)
    fresh = Loader(split, 4, shuffle=True, seed=1, epoch=2)
    used = Loader(split, 4, shuffle=True, seed=1)
    list(used), list(used)
    assert epoch_order(fresh) == epoch_order(used)


def test_no_shuffle_keeps_the_order():
    loader = Loader(indexed_split(23), 5)
    assert epoch_order(loader) == list(range(23))
    assert epoch_order(loader) == list(range(23))


@pytest.mark.parametrize("n,bs,sizes", [(23, 5, [5, 5, 5, 5, 3]), (20, 5, [5] * 4), (3, 10, [3]), (7, 1, [1] * 7)])
def test_batch_count_and_last_partial_batch(n, bs, sizes):
    loader = Loader(indexed_split(n), bs, shuffle=True)
    assert len(loader) == len(sizes)
    assert [len(y) for _, y in loader] == sizes


@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last(shuffle):
    loader = Loader(indexed_split(23), 5, shuffle=shuffle, drop_last=True)
    assert len(loader) == 4
    batches = list(loader)
    assert [len(y) for _, y in batches] == [5, 5, 5, 5]
    seen = sum((indices_of(X) for X, _ in batches), [])
    assert len(set(seen)) == 20
    if not shuffle:
        assert seen == list(range(20))


def test_drop_last_with_fewer_samples_than_a_batch():
    loader = Loader(indexed_split(3), 10, drop_last=True)
    assert len(loader) == 0 and list(loader) == []


def test_float_conversion_is_exact():
    loader = Loader(indexed_split(256, 2, 3), 64)
    batches = list(loader)
    X = torch.cat([x for x, _ in batches])
    assert all(x.dtype == torch.float32 and x.shape[1:] == (1, 2, 3) for x, _ in batches)
    assert batches[0][0].shape == (64, 1, 2, 3)
    assert batches[0][1].dtype == torch.int64
    assert X.min() == 0.0 and X.max() == 1.0
    expected = torch.arange(256, dtype=torch.float32) / 255  # k/255, correctly rounded in float32
    assert torch.equal(X[:, 0, 1, 2], expected)
    assert torch.equal(X[:, 0, 1, 2].double(), torch.tensor([np.float32(k / 255) for k in range(256)]).double())


def test_loader_leaves_the_split_untouched():
    split = indexed_split(10)
    before = split.images.clone()
    list(Loader(split, 4, shuffle=True))
    assert split.images.dtype == torch.uint8 and torch.equal(split.images, before)


@pytest.mark.parametrize("resize,shape", [(12, (12, 12)), ((9, 14), (9, 14)), ([4, 3], (4, 3)), (6, (6, 6)), ((6, 5), (6, 5))])
def test_resize(resize, shape):
    X, _ = next(iter(Loader(indexed_split(10, 6, 5), 4, resize=resize)))
    assert X.shape == (4, 1, *shape)
    assert X.dtype == torch.float32
    # image i is constant i/255: bilinear resizing keeps a constant image constant
    torch.testing.assert_close(X, (torch.arange(4, dtype=torch.float32) / 255).reshape(4, 1, 1, 1).expand_as(X))


def test_resize_of_a_real_image_stays_in_range():
    images = torch.randint(0, 256, (3, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    X = to_float(images, (224, 224))
    assert X.shape == (3, 1, 224, 224)
    assert X.min() >= -1e-6 and X.max() <= 1 + 1e-6


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, "8", None, True])
def test_invalid_batch_size(batch_size):
    with pytest.raises(ConfigError, match=rf"^The 'batch_size' parameter must be an int >= 1\. Got {batch_size!r}\.$"):
        Loader(indexed_split(10), batch_size)


@pytest.mark.parametrize("resize", [0, -3, (28,), (28, 28, 1), (28, 0), (2.5, 3), "28", 2.5, True, (True, 4)])
def test_invalid_resize(resize):
    pattern = r"^The 'resize' parameter must be a positive int or \(height, width\)\. Got " + \
        re.escape(repr(resize)) + r"\.$"
    with pytest.raises(ConfigError, match=pattern):
        Loader(indexed_split(10), 4, resize=resize)
    with pytest.raises(ConfigError, match=pattern):
        parse_resize(resize)


def test_parse_resize_valid():
    assert parse_resize(None) is None
    assert parse_resize(28) == (28, 28)
    assert parse_resize((20, 30)) == (20, 30)


def test_timed_pass():
    loader = Loader(indexed_split(50), 8, shuffle=True)
    seconds = timed_pass(loader)
    assert isinstance(seconds, float) and seconds > 0
    assert loader.epoch == 1  # it really iterated


def test_load_data_train_shuffled_test_in_order(data_dir):
    from linnet.data.sources import load_dataset
    ds = load_dataset("fashion-mnist", data_dir, download=False)
    train, test = load_data(ds, 16, seed=5)
    assert train.shuffle and not test.shuffle and train.seed == 5
    assert torch.equal(torch.cat([y for _, y in test]), ds.test.labels)


@pytest.mark.parametrize("resize,hw", [(None, (28, 28)), (32, (32, 32))])
def test_load_data_fashion_mnist(tmp_path, resize, hw):
    arrays = write_fake_dataset(tmp_path, 37, 11)
    train_iter, test_iter = load_data_fashion_mnist(16, resize=resize, data_dir=tmp_path)
    assert (len(train_iter), len(test_iter)) == (3, 1)
    X, y = next(iter(train_iter))
    assert X.shape == (16, 1, *hw) and X.dtype == torch.float32 and y.dtype == torch.int64
    X, y = next(iter(test_iter))
    assert X.shape == (11, 1, *hw)
    assert torch.equal(y, torch.from_numpy(arrays["test_labels"].astype(np.int64)))
    if resize is None:
        assert torch.equal(X[:, 0], torch.from_numpy(arrays["test_images"]).float() / 255)


@pytest.mark.parametrize("shuffle", [True, False])
def test_shards_of_each_batch_put_together_are_the_batch(shuffle):
    """linnet.distributed's ranks each read a contiguous part of every batch, the short last one too."""
    split = Split(torch.arange(23 * 4, dtype=torch.uint8).view(23, 2, 2), torch.arange(23))
    loader = Loader(split, 10, shuffle=shuffle, seed=1)
    whole = [y.tolist() for _, y in loader.epoch_batches(2)]
    parts = [[y.tolist() for _, y in loader.epoch_batches(2, shard=(rank, 3))] for rank in range(3)]
    assert [a + b + c for a, b, c in zip(*parts, strict=True)] == whole
    assert [len(y) for y in parts[0]] == [3, 3, 1] and [len(y) for y in parts[2]] == [4, 4, 1]
