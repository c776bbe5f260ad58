"""The book's own code on linnet: `from linnet import d2l` instead of `from d2l import torch as d2l`.

Chapter 3 of *Dive into Deep Learning* (classic edition: train_ch3 and friends) with d2l's names,
signatures and return values, built on linnet's modules:

  loaders.py     load_data_fashion_mnist, get_fashion_mnist_labels, get_dataloader_workers, load_array,
                 synthetic_data (linnet Loaders over resident tensors)
  datasets.py    FashionMNIST(root, train, transform, download): torchvision's dataset, no torchvision needed
  transforms.py  ToTensor, Resize, Compose
  plotting.py    use_svg_display, set_figsize, set_axes, plot, show_images, Animator, plt
  training.py    Timer, accuracy, evaluate_accuracy, train_epoch_ch3, train_ch3, predict_ch3
  aliases.py     the framework-neutral names of the book's shared cells (d2l.reshape, d2l.reduce_sum, ...)
  unsupported.py d2l names with no meaning here, and what to use instead

Accumulator, sgd, linreg and squared_loss are linnet's own (linnet.metrics, linnet.functional).
The modules the book's code reaches through d2l are here too: d2l.torch, d2l.nn, d2l.data
(torch.utils.data), d2l.np, d2l.plt, and d2l.torchvision (datasets.FashionMNIST, transforms), so
`from linnet.d2l import torchvision, transforms` replaces the book's two torchvision imports.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np  # noqa: F401 (d2l.np)
import torch  # noqa: F401 (d2l.torch)
from torch import nn  # noqa: F401 (d2l.nn)
from torch.utils import data  # noqa: F401 (d2l.data)

from linnet.d2l import transforms
from linnet.d2l.aliases import *  # noqa: F401,F403 (d2l.reshape, d2l.reduce_sum, ...: aliases.NAMES)
from linnet.d2l.aliases import NAMES as _ALIAS_NAMES
from linnet.d2l.datasets import FashionMNIST
from linnet.d2l.loaders import (get_dataloader_workers, get_fashion_mnist_labels, load_array,
                                load_data_fashion_mnist, synthetic_data)
from linnet.d2l.plotting import Animator, plot, plt, set_axes, set_figsize, show_images, use_svg_display
from linnet.d2l.training import (Timer, accuracy, evaluate_accuracy, predict_ch3, train_ch3,
                                 train_epoch_ch3)
from linnet.d2l.unsupported import MESSAGES as _UNSUPPORTED
from linnet.errors import NotSupported
from linnet.functional import linreg, sgd, squared_loss
from linnet.metrics import Accumulator

# `import torchvision` in the book's cells: only what chapter 3 uses of it
torchvision = SimpleNamespace(datasets=SimpleNamespace(FashionMNIST=FashionMNIST), transforms=transforms)

__all__ = ["Accumulator", "Animator", "FashionMNIST", "Timer", "accuracy", "data", "evaluate_accuracy",
           "get_dataloader_workers", "get_fashion_mnist_labels", "linreg", "load_array",
           "load_data_fashion_mnist", "nn", "np", "plot", "plt", "predict_ch3", "set_axes", "set_figsize",
           "sgd", "show_images", "squared_loss", "synthetic_data", "torch", "torchvision", "train_ch3",
           "train_epoch_ch3", "transforms", "use_svg_display", *_ALIAS_NAMES]


def __getattr__(name: str):
    if name in _UNSUPPORTED:
        raise NotSupported(_UNSUPPORTED[name])
    raise AttributeError(f"module 'linnet.d2l' has no attribute {name!r}")
