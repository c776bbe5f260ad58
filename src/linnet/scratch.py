"""Linear and softmax regression from scratch: plain tensor ops, autograd for the gradients.

Everything here follows the chapter: losses return one value per sample (no reduction), the
training step sums them, and `sgd` divides the step by the batch size. The only departures are
for safety and are said where they happen: `softmax` subtracts the row max, and `cross_entropy`
works from logits by LogSumExp. The chapter's naive versions are kept next to them, for teaching.
"""
from __future__ import annotations

import torch
from torch import Tensor

from linnet.config import check_float
from linnet.models import as_matrix, check_state

# -- softmax and cross-entropy ---------------------------------------------------------------------


def softmax_naive(O: Tensor) -> Tensor:
    """The chapter's exp(o) / sum(exp(o)) over the last dim. UNSAFE: kept for teaching.

    exp overflows to inf for logits above ~88 (float32), ~11 (float16), ~709 (float64), and
    inf / inf = nan; very negative logits underflow to 0 / 0 = nan. Use `softmax`.
    """
    O_exp = torch.exp(O)                               # (B, k)
    return O_exp / O_exp.sum(-1, keepdim=True)         # (B, k) / (B, 1) -> (B, k)


def softmax(O: Tensor) -> Tensor:
    """Stable softmax over the last dim: softmax(o) = softmax(o - max(o)), so exp sees values <= 0.

    The max is detached: softmax is shift-invariant, so its gradient through the max is exactly
    zero anyway, and detaching keeps it out of the graph.
    """
    O_exp = torch.exp(O - O.detach().amax(-1, keepdim=True))  # (B, k) - (B, 1) -> (B, k), all <= 1
    return O_exp / O_exp.sum(-1, keepdim=True)                 # the sum is >= 1: no 0 / 0


def log_softmax(O: Tensor) -> Tensor:
    """log softmax(o) = o - LogSumExp(o), with LogSumExp(o) = m + log sum exp(o - m), m = max(o).

    Never takes the log of a probability that underflowed to 0: log_softmax(-1000 vs 1000) is
    -2000, not -inf.
    """
    m = O.detach().amax(-1, keepdim=True)                                # (B, 1)
    lse = m + torch.log(torch.exp(O - m).sum(-1, keepdim=True))           # (B, 1)
    return O - lse                                                       # (B, k) - (B, 1) -> (B, k)


def cross_entropy(O: Tensor, y: Tensor) -> Tensor:
    """Per-sample cross-entropy from logits O (B, k) and class indices y (B,): -log_softmax(O)[i, y_i].

    The default loss: finite for any finite logits, in any float dtype.
    """
    return -log_softmax(O).gather(-1, y.unsqueeze(-1)).squeeze(-1)     # (B, k) -> (B, 1) -> (B,)


def cross_entropy_from_probs(y_hat: Tensor, y: Tensor, eps: float = 1e-12) -> Tensor:
    """The chapter's -log(y_hat[range(n), y]) from probabilities y_hat (B, k); per-sample (B,).

    A probability that underflowed to 0 would give log(0) = -inf, so it is clamped to at least
    `eps` (raised to the dtype's smallest normal number where eps itself would round to 0, as
    1e-12 does in float16). The loss then saturates at -log(eps) (27.6 for 1e-12) however wrong
    the prediction: information is lost, which is why `cross_entropy` from logits is the default.
    """
    check_float("eps", eps, 0.0)
    eps = max(eps, torch.finfo(y_hat.dtype).tiny)
    p_true = y_hat[torch.arange(len(y_hat), device=y_hat.device), y]   # (B, k) -> (B,)
    return -torch.log(p_true.clamp_min(eps))


# -- regression losses -----------------------------------------------------------------------------


def squared_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    """1/2 (y_hat - y)^2 elementwise, y reshaped to y_hat's shape as in the chapter.

    The 1/2 makes the gradient the plain residual, y_hat - y.
    """
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def l1_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    """|y_hat - y| elementwise: robust to outliers, but its gradient (+-1) does not shrink near 0."""
    return (y_hat - y.reshape(y_hat.shape)).abs()


def huber_loss(y_hat: Tensor, y: Tensor, delta: float = 1.0) -> Tensor:
    """1/2 r^2 for |r| <= delta, delta (|r| - delta/2) beyond, r = y_hat - y (elementwise).

    Squared near 0 (gradients shrink as the fit improves), linear beyond delta (outliers pull with
    bounded force). The two pieces meet at |r| = delta with equal value and slope (delta), so
    the loss and its gradient are continuous.
    """
    check_float("delta", delta, 0.0)
    r = (y_hat - y.reshape(y_hat.shape)).abs()
    return torch.where(r <= delta, r ** 2 / 2, delta * (r - delta / 2))


# -- the model and the optimiser -----------------------------------------------------------------


def linreg(X: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """The linear-regression model: (n, d) @ (d, 1) + (1,) -> (n, 1)."""
    return X @ w + b


def sgd(params, lr: float, batch_size: int, weight_decay: float = 0.0) -> None:
    """Minibatch SGD, the chapter's way: p -= lr * (p.grad / batch_size + weight_decay * p).

    Why divide by batch_size, and why exactly once: the training step backpropagates the SUM of
    the per-sample losses, so p.grad is a sum over the batch. Dividing it by batch_size turns it
    into the mean gradient, which makes the step independent of the batch size (doubling the
    batch does not double the step). The loss itself must therefore not be averaged as well:
    with a mean loss, dividing again would shrink every step by another factor of batch_size.

    weight_decay (L2, the gradient of weight_decay/2 ||p||^2) applies to matrices only
    (p.dim() >= 2: W and w), never to biases, as in nanoGPT's optimiser groups.
    Updates in place without recording the graph, then zeroes the gradients for the next batch.
    """
    with torch.no_grad():
        for p in params:
            step = p.grad / batch_size
            if weight_decay and p.dim() >= 2:
                step = step + weight_decay * p
            p -= lr * step
            p.grad.zero_()


# -- the models, behind the common interface in linnet.models ----------------------------------


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

    def train_step(self, X: Tensor, y: Tensor, lr: float, weight_decay: float = 0.0) -> tuple[float, int]:
        O = self.net(X)                                               # (B, k) logits
        l = cross_entropy(O, y)                                       # (B,)
        l.sum().backward()                                            # the sum: `sgd` divides by B
        sgd([self.weight, self.bias], lr, len(l), weight_decay)
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

    def train_step(self, X: Tensor, y: Tensor, lr: float, weight_decay: float = 0.0) -> tuple[float, int]:
        l = squared_loss(self.net(X), y)                              # (B, 1)
        l.sum().backward()
        sgd([self.weight, self.bias], lr, len(l), weight_decay)
        return l.detach().sum().item(), 0
