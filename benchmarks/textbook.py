"""The chapter's recipe exactly as the book writes it (d2l 3.6, "Implementation of Softmax Regression
from Scratch", PyTorch edition), for side-by-side timing. Not linnet code: a faithful copy of the
reference, kept apart so that the benchmark measures what a reader of the chapter runs (linnet.d2l
offers the same names built on linnet's pieces; this file deliberately does not use it).

What `d2l.load_data_fashion_mnist(256)` builds, without torchvision (not installable here):
  - `FashionMNIST(..., transform=transforms.ToTensor())`: a per-item dataset over resident uint8
    tensors whose `__getitem__` makes a PIL image (`Image.fromarray(img.numpy(), mode='L')`, as
    torchvision does it) and converts it with ToTensor (PIL -> uint8 array -> float (1, H, W) / 255);
    `ItemDataset` and `to_tensor` below reproduce torchvision's code line for line.
  - `DataLoader(train, 256, shuffle=True, num_workers=4)` and `DataLoader(test, 256, shuffle=False,
    num_workers=4)` (the book's `get_dataloader_workers()` is 4); the benchmark also runs 0 workers.
Then the chapter's own code: `softmax`, `net`, `cross_entropy` (-log of the picked probability),
`accuracy`, `Accumulator`, `evaluate_accuracy`, `train_epoch_ch3` (with its per-batch
`float(l.sum())` and accuracy accumulation), `train_ch3` without the Animator's drawing, and
`updater` = `d2l.sgd([W, b], lr, batch_size)`. The only addition is `torch.manual_seed` so that
runs repeat; the book's closing asserts are left out because the benchmark reports the accuracy.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils import data

PILLOW_MODE_DEPRECATED = tuple(int(x) for x in Image.__version__.split(".")[:2]) >= (11, 3)


def image_fromarray_l(arr: np.ndarray) -> Image.Image:
    """torchvision.utils._Image_fromarray(arr, mode='L'): Pillow >= 11.3 deprecates fromarray's
    `mode`, so torchvision builds the same image with frombuffer there (C-contiguous input)."""
    if PILLOW_MODE_DEPRECATED:
        return Image.frombuffer("L", (arr.shape[1], arr.shape[0]), arr, "raw", "L", 0, 1)
    return Image.fromarray(arr, mode="L")


def to_tensor(pic: Image.Image) -> torch.Tensor:
    """transforms.ToTensor() on a mode-'L' PIL image (torchvision's F.to_tensor, PIL branch)."""
    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))          # (H, W) uint8
    img = img.view(pic.size[1], pic.size[0], 1)                          # (H, W, C=1)
    img = img.permute((2, 0, 1)).contiguous()                            # (1, H, W)
    return img.to(dtype=torch.get_default_dtype()).div(255)


class ItemDataset(data.Dataset):
    """torchvision.datasets.FashionMNIST's __getitem__ with transform=ToTensor()."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        self.data, self.targets = images, labels                        # (N, H, W) uint8, (N,) int64

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        img = image_fromarray_l(img.numpy())
        return to_tensor(img), target

    def __len__(self):
        return len(self.data)


def load_data(train_images, train_labels, test_images, test_labels, batch_size: int, workers: int):
    """d2l.load_data_fashion_mnist(batch_size) with num_workers=workers (the book: 4)."""
    return (data.DataLoader(ItemDataset(train_images, train_labels), batch_size, shuffle=True,
                            num_workers=workers),
            data.DataLoader(ItemDataset(test_images, test_labels), batch_size, shuffle=False,
                            num_workers=workers))


def softmax(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition  # The broadcasting mechanism is applied here


def cross_entropy(y_hat, y):
    return - torch.log(y_hat[range(len(y_hat)), y])


def accuracy(y_hat, y):
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


class Accumulator:
    """For accumulating sums over `n` variables."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self):
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx):
        return self.data[idx]


def evaluate_accuracy(net, data_iter):
    """Compute the accuracy for a model on a dataset."""
    if isinstance(net, torch.nn.Module):
        net.eval()  # Set the model to evaluation mode
    metric = Accumulator(2)  # No. of correct predictions, no. of predictions
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def sgd(params, lr, batch_size):
    """Minibatch stochastic gradient descent (d2l.sgd)."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def train_epoch_ch3(net, train_iter, loss, updater):
    """The training loop defined in Chapter 3."""
    if isinstance(net, torch.nn.Module):
        net.train()
    metric = Accumulator(3)  # Sum of training loss, sum of training accuracy, no. of examples
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)  # noqa: E741 (the book's name)
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        metric.add(float(l.sum()), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater):
    """Train a model (defined in Chapter 3); the Animator's drawing left out, the history returned."""
    history = []
    for _ in range(num_epochs):
        train_metrics = train_epoch_ch3(net, train_iter, loss, updater)
        test_acc = evaluate_accuracy(net, test_iter)
        history.append(train_metrics + (test_acc,))                    # (train loss, train acc, test acc)
    return history


def run_chapter(train_images, train_labels, test_images, test_labels, workers: int = 4, num_epochs: int = 10,
                batch_size: int = 256, lr: float = 0.1, seed: int = 0) -> list[tuple[float, float, float]]:
    """The chapter's script top to bottom; returns (train loss, train acc, test acc) per epoch."""
    torch.manual_seed(seed)
    train_iter, test_iter = load_data(train_images, train_labels, test_images, test_labels, batch_size, workers)
    num_inputs = train_images[0].numel()                               # 784
    num_outputs = 10
    W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = torch.zeros(num_outputs, requires_grad=True)

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)   # (B, 784) @ (784, 10) -> (B, 10)

    def updater(batch_size):
        return sgd([W, b], lr, batch_size)

    return train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)
