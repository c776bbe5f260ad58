"""The book's data functions: Fashion-MNIST batches, its text labels, worker count, arrays, synthetic data.

Built on linnet's loader: `load_data_fashion_mnist` and `load_array` return linnet Loaders, which
gather whole batches from resident tensors (no worker processes, no per-item collation as in the book's
DataLoader). Their shuffling draws its seed from torch's global generator, so
`torch.manual_seed(...)` makes a run repeatable, as in the book.
"""
from __future__ import annotations

import multiprocessing
import os

import torch

from linnet.checks import check_int
from linnet.data import loader, synthetic
from linnet.data.dataset import Split
from linnet.errors import ConfigError

# the book's spellings (linnet's dataset classes are the dataset's own: 'T-shirt/top', 'Trouser', ...)
TEXT_LABELS = ('t-shirt', 'trouser', 'pullover', 'dress', 'coat', 'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot')


def _global_seed() -> int:
    """A seed drawn from torch's global generator: torch.manual_seed governs linnet's seeded shuffles too."""
    return int(torch.randint(0, 2**31 - 1, ()))


def get_fashion_mnist_labels(labels) -> list[str]:
    """Numeric labels (a tensor or any iterable of ints) -> the book's text labels."""
    out = []
    for i in labels:
        i = int(i)
        if not 0 <= i < len(TEXT_LABELS):
            raise ConfigError(f"The labels must be class indices in 0..9. Got {i}.")
        out.append(TEXT_LABELS[i])
    return out


def get_dataloader_workers() -> int:
    """The book's 4 worker processes (fewer on a machine with fewer cores, where torch itself warns that
    more workers would be slow) where they start by fork (Linux up to Python 3.13), else 0.

    Under spawn or forkserver (macOS, Windows, Linux from Python 3.14) every worker re-imports the
    main script, which fails outright without `if __name__ == "__main__":` and costs seconds of start-up
    per epoch; with the data already in memory, 0 workers is also the faster choice there.
    """
    method = multiprocessing.get_start_method(allow_none=True) or multiprocessing.get_all_start_methods()[0]
    if method != "fork":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(4, cores)


def load_data_fashion_mnist(batch_size: int, resize=None, data_dir: str | os.PathLike | None = None):
    """(train_iter, test_iter) of (X (B, 1, H, W) float32 in [0, 1], y (B,) int64), as the book's.

    The files are found as `linnet train` finds them: `data_dir`, else $LINNET_DATA/fashion-mnist,
    else the per-user cache, downloaded (MD5-verified) when missing. `resize`: an int or (h, w).
    """
    return loader.load_data_fashion_mnist(batch_size, resize=resize, data_dir=data_dir, seed=_global_seed())


def synthetic_data(w, b, num_examples: int):
    """The book's y = Xw + b + noise (std 0.01): X (n, len(w)), y (n, 1), drawn from torch's global generator."""
    check_int("num_examples", num_examples, 1)
    dtype = w.dtype if isinstance(w, torch.Tensor) and w.is_floating_point() else torch.float32
    return synthetic.synthetic_data(w, b, num_examples, seed=_global_seed(), dtype=dtype)


def load_array(data_arrays, batch_size: int, is_train: bool = True):
    """Minibatches over tensors of equal length, shuffled when `is_train`, as the book's load_array.

    (features, labels) become a linnet Loader; any other number of arrays, or integer features
    (which linnet's loader would take for images), a torch DataLoader over a TensorDataset.
    """
    arrays = tuple(data_arrays) if isinstance(data_arrays, (tuple, list)) else ()
    if not arrays or not all(isinstance(a, torch.Tensor) for a in arrays):
        raise ConfigError(f"The 'data_arrays' parameter must be a tuple of tensors. Got {type(data_arrays).__name__}.")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ConfigError(f"The 'data_arrays' parameter must hold tensors of equal length. "
                          f"Got lengths {', '.join(map(str, lengths))}.")
    check_int("batch_size", batch_size, 1)
    if len(arrays) == 2 and arrays[0].is_floating_point():
        return loader.Loader(Split(*arrays), batch_size, shuffle=bool(is_train), seed=_global_seed())
    from torch.utils import data
    return data.DataLoader(data.TensorDataset(*arrays), batch_size, shuffle=bool(is_train))
