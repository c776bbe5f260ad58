"""Linear and softmax regression from scratch: the chapter's functions (linnet.functional) and
autograd for the gradients, trained by the chapter's `sgd`.
"""
from __future__ import annotations

import torch
from torch import Tensor

from linnet.functional import cross_entropy, linreg, sgd, squared_loss
from linnet.models.base import as_matrix, check_state


class _AutogradModel:
    """Shared plumbing: parameters are leaf tensors with requires_grad, trained by `sgd`."""
    kind: str
    names: tuple[str, str]

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        self.weight = weight.detach().clone().requires_grad_(True)   # (d, k) or (d, 1)
        self.bias = bias.detach().clone().requires_grad_(True)       # (k,) or (1,)
        self.num_inputs, self.num_outputs = self.weight.shape

    def net(self, X: Tensor) -> Tensor:
        X = as_matrix(X, self.num_inputs, self.weight.dtype)          # (B, ...) -> (B, d)
        return X @ self.weight + self.bias                            # (B, d) @ (d, k) + (k,) -> (B, k)

    def forward(self, X: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net(X)

    def state_dict(self) -> dict[str, Tensor]:
        return {self.names[0]: self.weight.detach().clone(), self.names[1]: self.bias.detach().clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        w, b = check_state(state, {self.names[0]: self.weight.shape, self.names[1]: self.bias.shape})
        with torch.no_grad():
            self.weight.copy_(w)
            self.bias.copy_(b)

    def backward_sum(self, X: Tensor, y: Tensor) -> tuple[float, int]:
        """Backpropagate the batch's SUMMED loss into .grad; (summed loss, correct), before any step."""
        raise NotImplementedError

    def train_step(self, X: Tensor, y: Tensor, lr: float, weight_decay: float = 0.0) -> tuple[float, int]:
        loss_sum, correct = self.backward_sum(X, y)
        sgd([self.weight, self.bias], lr, len(y), weight_decay)    # `sgd` divides the summed gradient by B
        return loss_sum, correct

    # A data-parallel step (linnet.distributed) is train_step cut in two around the all-reduce.
    def local_gradient(self, X: Tensor, y: Tensor) -> tuple[float, int, list[Tensor]]:
        """(summed loss, correct, gradients of the summed loss) of this batch, no step taken."""
        loss_sum, correct = self.backward_sum(X, y)
        return loss_sum, correct, [self.weight.grad, self.bias.grad]

    def apply_gradient(self, lr: float, batch_size: int, weight_decay: float = 0.0) -> None:
        """The SGD step from the (all-reduced) summed gradients in .grad, over a batch of batch_size."""
        sgd([self.weight, self.bias], lr, batch_size, weight_decay)

    def to(self, device) -> "_AutogradModel":
        self.weight = self.weight.detach().to(device).requires_grad_(True)
        self.bias = self.bias.detach().to(device).requires_grad_(True)
        return self


class SoftmaxRegression(_AutogradModel):
    """Softmax regression: logits = flatten(X) @ W + b, cross-entropy loss, autograd + `sgd`."""
    kind = "softmax"
    names = ("W", "b")

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():
            return cross_entropy(self.net(X), y)                      # (B,)

    def backward_sum(self, X: Tensor, y: Tensor) -> tuple[float, int]:
        O = self.net(X)                                               # (B, k) logits
        l = cross_entropy(O, y)                                       # (B,)
        l.sum().backward()                                            # the sum: `sgd` divides by B
        return l.detach().sum().item(), (O.detach().argmax(-1) == y).sum().item()


class LinearRegression(_AutogradModel):
    """Linear regression: y_hat = flatten(X) @ w + b, squared loss, autograd + `sgd`."""
    kind = "linear"
    names = ("w", "b")

    def net(self, X: Tensor) -> Tensor:
        return linreg(as_matrix(X, self.num_inputs, self.weight.dtype), self.weight, self.bias)   # (B, 1)

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():
            y_hat = self.net(X)                                       # (B, 1)
            return squared_loss(y_hat, y).reshape(-1)                 # (B, 1) -> (B,)

    def backward_sum(self, X: Tensor, y: Tensor) -> tuple[float, int]:
        l = squared_loss(self.net(X), y)                              # (B, 1)
        l.sum().backward()
        return l.detach().sum().item(), 0
