"""The chapter's recipe, written plainly as the book does it, for side-by-side timing.

Per-item dataset (each __getitem__ converts one image to a float tensor, like ToTensor),
torch DataLoader with batch 256, shuffle and N workers, from-scratch softmax / cross-entropy / sgd
with autograd, lr 0.1, 10 epochs, test accuracy after each epoch.
"""
from __future__ import annotations

import torch
from torch.utils import data


class ItemDataset(data.Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i].unsqueeze(0).float() / 255, int(self.labels[i])  # like ToTensor()


def softmax(X):
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(1, keepdim=True)


def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


def accuracy(y_hat, y):
    return float((y_hat.argmax(axis=1).type(y.dtype) == y).type(y.dtype).sum())


def train(train_images, train_labels, test_images, test_labels, workers: int, epochs: int = 10,
          batch_size: int = 256, lr: float = 0.1, seed: int = 0) -> float:
    torch.manual_seed(seed)
    train_iter = data.DataLoader(ItemDataset(train_images, train_labels), batch_size, shuffle=True,
                                 num_workers=workers)
    test_iter = data.DataLoader(ItemDataset(test_images, test_labels), batch_size, shuffle=False,
                                num_workers=workers)
    num_inputs = train_images[0].numel()
    W = torch.normal(0, 0.01, size=(num_inputs, 10), requires_grad=True)
    b = torch.zeros(10, requires_grad=True)

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    acc = 0.0
    for _ in range(epochs):
        for X, y in train_iter:
            l = cross_entropy(net(X), y)
            l.sum().backward()
            with torch.no_grad():
                for param in (W, b):
                    param -= lr * param.grad / X.shape[0]
                    param.grad.zero_()
        with torch.no_grad():
            correct = sum(accuracy(net(X), y) for X, y in test_iter)
        acc = correct / len(test_labels)
    return acc
