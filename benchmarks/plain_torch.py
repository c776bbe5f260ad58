"""The chapter's run as a competent PyTorch user writes it without a framework: a reference for what
plain torch costs once the per-item data pipeline is gone.

Resident uint8 tensors, a seeded `randperm` per epoch and `index_select` per batch, float
conversion / 255 per batch, `torch.nn.Linear` (W ~ N(0, 0.01^2), b = 0, as the chapter),
`nn.CrossEntropyLoss` (mean, so lr 0.1 matches the book's sum / batch_size), `torch.optim.SGD`,
test accuracy after every epoch (one batch of the whole test set: it fits easily).
"""
from __future__ import annotations

import torch
from torch import nn


def build(num_inputs: int = 784, num_outputs: int = 10, lr: float = 0.1, seed: int = 0):
    """The model and optimizer, built before the clock starts as linnet's rows build theirs (the first
    torch.optim optimizer imports torch._dynamo: seconds, once per process)."""
    torch.manual_seed(seed)
    net = nn.Linear(num_inputs, num_outputs)
    nn.init.normal_(net.weight, 0, 0.01)
    nn.init.zeros_(net.bias)
    return net, torch.optim.SGD(net.parameters(), lr=lr)


def run_plain(net: nn.Linear, opt: torch.optim.Optimizer, train_images: torch.Tensor, train_labels: torch.Tensor,
              test_images: torch.Tensor, test_labels: torch.Tensor, num_epochs: int = 10, batch_size: int = 256,
              seed: int = 0) -> list[float]:
    """Trains net in place; returns the test accuracy after each epoch."""
    g = torch.Generator().manual_seed(seed)
    X_train = train_images.reshape(len(train_images), -1)              # (N, 784) uint8, a view
    X_test = test_images.reshape(len(test_images), -1).float() / 255   # (M, 784) float, converted once
    loss_fn = nn.CrossEntropyLoss()
    accs = []
    for _ in range(num_epochs):
        order = torch.randperm(len(X_train), generator=g)              # (N,)
        for idx in order.split(batch_size):
            X = X_train.index_select(0, idx).float().div_(255)         # (B, 784) uint8 -> float in [0, 1]
            y = train_labels.index_select(0, idx)                      # (B,)
            loss = loss_fn(net(X), y)                                  # (B, 784) @ (784, 10) -> (B, 10) -> ()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        with torch.no_grad():
            accs.append(float((net(X_test).argmax(1) == test_labels).float().mean()))
    return accs
