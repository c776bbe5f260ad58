import multiprocessing

import pytest
import torch

from linnet.d2l import loaders
from linnet.d2l.loaders import (get_dataloader_workers, get_fashion_mnist_labels, load_array,
                                load_data_fashion_mnist, synthetic_data)
from linnet.data.loader import Loader
from linnet.errors import ConfigError, DownloadError


def test_fashion_mnist_labels_in_the_books_spelling():
    assert get_fashion_mnist_labels(torch.tensor([0, 9, 5])) == ["t-shirt", "ankle boot", "sandal"]
    assert get_fashion_mnist_labels([1, 2, 3, 4, 6, 7, 8]) == ["trouser", "pullover", "dress", "coat", "shirt",
                                                              "sneaker", "bag"]
    with pytest.raises(ConfigError, match="The labels must be class indices in 0..9. Got 10."):
        get_fashion_mnist_labels([3, 10])


@pytest.mark.parametrize("method, cores, expected", [("fork", 16, 4), ("fork", 2, 2), ("spawn", 16, 0),
                                                     ("forkserver", 16, 0)])
def test_dataloader_workers_only_where_processes_start_by_fork(monkeypatch, method, cores, expected):
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: method)
    monkeypatch.setattr(loaders.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert get_dataloader_workers() == expected


def test_dataloader_workers_follow_the_platforms_default_when_none_is_set(monkeypatch):
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: None)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn", "fork"])   # macOS's order
    assert get_dataloader_workers() == 0


def test_load_data_fashion_mnist_finds_the_files_as_linnet_train_does(tmp_path, monkeypatch):
    from conftest import write_fake_dataset
    write_fake_dataset(tmp_path / "fashion-mnist", 40, 12)
    monkeypatch.setenv("LINNET_DATA", str(tmp_path))
    train_iter, test_iter = load_data_fashion_mnist(16, resize=(32, 30))
    assert isinstance(train_iter, Loader) and train_iter.shuffle and not test_iter.shuffle
    X, y = next(iter(train_iter))
    assert X.shape == (16, 1, 32, 30) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert sum(len(y) for _, y in test_iter) == 12


def test_load_data_fashion_mnist_shuffles_as_torchs_global_seed_says(data_dir):
    def first_labels():
        return next(iter(load_data_fashion_mnist(10, data_dir=data_dir)[0]))[1]

    torch.manual_seed(3)
    a = first_labels()
    torch.manual_seed(3)
    assert torch.equal(a, first_labels())
    assert not all(torch.equal(a, first_labels()) for _ in range(3))


def test_load_data_fashion_mnist_without_files_downloads_and_says_what_failed():
    with pytest.raises(DownloadError, match="could not download train-images-idx3-ubyte.gz for fashion-mnist; tried"):
        load_data_fashion_mnist(8)          # (the tests' mirrors are a dead local port)


def test_load_data_fashion_mnist_bad_arguments(data_dir):
    with pytest.raises(ConfigError, match="The 'batch_size' parameter must be an int >= 1. Got 0."):
        load_data_fashion_mnist(0, data_dir=data_dir)
    with pytest.raises(ConfigError, match=r"The 'resize' parameter must be a positive int or \(height, width\). Got -1."):
        load_data_fashion_mnist(8, resize=-1, data_dir=data_dir)


def test_synthetic_data_has_the_books_shapes_and_follows_torchs_seed():
    w = torch.tensor([2, -3.4])
    torch.manual_seed(0)
    X, y = synthetic_data(w, 4.2, 500)
    assert X.shape == (500, 2) and y.shape == (500, 1) and X.dtype == torch.float32
    residual = y - (X @ w.reshape(-1, 1) + 4.2)
    assert 0.005 < float(residual.std()) < 0.02                 # the noise: std 0.01
    torch.manual_seed(0)
    assert torch.equal(synthetic_data(w, 4.2, 500)[0], X)
    assert synthetic_data(torch.tensor([1.0], dtype=torch.float64), 0, 3)[0].dtype == torch.float64
    with pytest.raises(ConfigError, match="The 'num_examples' parameter must be an int >= 1. Got 0."):
        synthetic_data(w, 4.2, 0)


def test_load_array_batches_features_and_labels():
    X, y = torch.randn(25, 2), torch.randn(25, 1)
    it = load_array((X, y), 10)
    assert isinstance(it, Loader) and len(it) == 3
    got = list(it)
    assert [len(b) for b, _ in got] == [10, 10, 5]
    Xs, ys = torch.cat([b for b, _ in got]), torch.cat([t for _, t in got])
    order = torch.argsort(Xs[:, 0])
    assert torch.equal(Xs[order], X[torch.argsort(X[:, 0])])            # every row once, rows and targets together
    assert torch.equal(ys[order], y[torch.argsort(X[:, 0])])
    assert not torch.equal(Xs, X)                                        # shuffled
    first, second = [torch.cat([b for b, _ in it]) for _ in range(2)]
    assert not torch.equal(first, second)                                # a new order every epoch
    in_order = load_array((X, y), 10, is_train=False)
    assert torch.equal(torch.cat([b for b, _ in in_order]), X)


def test_load_array_of_other_arrays_uses_a_tensor_dataset():
    ints, a, b = torch.arange(6), torch.zeros(6, 3), torch.ones(6)
    batches = list(load_array((ints, a, b), 4, is_train=False))
    assert [len(t) for t, _, _ in batches] == [4, 2]
    assert torch.equal(torch.cat([t for t, _, _ in batches]), ints)     # integers are not taken for images


@pytest.mark.parametrize("arrays, batch, match", [
    ([[1.0, 2.0], [3.0]], 2, "The 'data_arrays' parameter must be a tuple of tensors. Got list."),
    (torch.zeros(3), 2, "The 'data_arrays' parameter must be a tuple of tensors. Got Tensor."),
    ((torch.zeros(3, 2), torch.zeros(4)), 2, "The 'data_arrays' parameter must hold tensors of equal length. "
                                             "Got lengths 3, 4."),
    ((torch.zeros(3, 2), torch.zeros(3)), 0, "The 'batch_size' parameter must be an int >= 1. Got 0."),
])
def test_load_array_bad_input(arrays, batch, match):
    with pytest.raises(ConfigError, match=match):
        load_array(arrays, batch)
