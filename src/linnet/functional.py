"""The chapter's math from scratch: softmax, log-softmax (LogSumExp), cross-entropy, the
squared / L1 / Huber losses, the linear model and minibatch SGD, in plain tensor ops.

Everything here follows the chapter: losses return one value per sample (no reduction), the
training step sums them, and `sgd` divides the step by the batch size. The only departures are
for safety and are said where they happen: `softmax` subtracts the row max, and `cross_entropy`
works from logits by LogSumExp. The chapter's naive versions are kept next to them, for teaching.
"""
from __future__ import annotations

import torch
from torch import Tensor

from linnet.checks import check_float

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
