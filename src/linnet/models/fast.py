"""Linear and softmax regression with the gradients written by hand: no autograd, in-place updates.

The same math as linnet.models.scratch (the tests hold the three implementations to 1e-5 of each
other), but each step is a handful of fused kernels on preallocated buffers instead of a graph.

softmax regression, one batch X (B, d), labels y (B,); computed transposed, logits as (k, B):
    O^T = W^T X^T + b                  one addmm                                   (k, B)
    log P^T = log_softmax(O^T)         one kernel (LogSumExp inside: cannot overflow)
    loss = -sum_i log P[i, y_i]
    G^T = P^T - onehot(y)^T            exp in place, subtract 1 at the true class   (k, B)
    W^T <- (1 - lr wd) W^T - lr/B G^T X   one addmm_                                (k, d)
    b <- b - lr/B sum_i G_i                                                         (k,)

Why the gradient of the cross-entropy w.r.t. the logits is softmax(o) - onehot(y): for one sample
l(o) = -log softmax(o)_y = log sum_j exp(o_j) - o_y, so
    dl/do_j = exp(o_j) / sum_i exp(o_i) - [j == y] = softmax(o)_j - onehot(y)_j.
The prediction error, nothing more; and since O = X W + b, the chain rule gives dL/dW = X^T G and
dL/db = column sums of G. The 1/B of G is folded into the addmm's alpha (no extra pass).

Why transposed: with k = 10 outputs, W kept as W^T (k, d) row-major makes both products run along
contiguous rows of W^T and X; measured here, that is 2-4x faster than X @ W with W as (d, k).
Images may come as uint8 (0..255): X = U / 255 is then folded into the same alphas, so a batch is
converted to float once, without a division pass.

linear regression: y_hat = X w + b, r = y_hat - y, l = 1/2 r^2, so dl/dw = X^T r, dl/db = sum r.

Compiled kernel: for uint8 images on a CPU with AVX2, softmax training steps and all forward
passes run in _kernel.c (see linnet.models.kernel): the same math as the torch code below,
2.5-3.5x faster on two cores (make bench). `train_rows` runs a whole epoch's steps there,
reading each batch's rows straight from the resident images.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from linnet.models import kernel
from linnet.errors import ConfigError
from linnet.models.base import as_matrix, check_state
from linnet.threads import ThreadChoice

CHUNK_ROWS = 16384   # rows per kernel call in train_rows: the progress bar moves, Ctrl-C is seen


class _Workspace(NamedTuple):
    """Buffers for one batch size, allocated once: the training loop reuses them every step."""
    x: Tensor          # (B, d) float: a uint8 batch converted in place
    o_t: Tensor        # (k, B) logits -> log-probabilities -> gradient
    minus_ones: Tensor  # (1, B) the -1 subtracted at each true class


class _ManualModel:
    """Shared plumbing: plain tensors (no requires_grad), the weight stored transposed as (k, d)."""
    kind: str
    names: tuple[str, str]
    accepts_uint8 = True   # the training loop may hand over raw uint8 image batches (scale 1/255)

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        self.weight_t = weight.detach().T.clone(memory_format=torch.contiguous_format)  # (d, k) -> (k, d), own copy
        self.bias = bias.detach().clone()                             # (k,)
        self.bias_col = self.bias[:, None]                            # (k, 1) view, broadcast over the batch
        self.num_outputs, self.num_inputs = self.weight_t.shape
        self._workspaces: dict[tuple, tuple] = {}
        self.threads = ThreadChoice()                                 # the kernel's, picked by measured speed

    @property
    def weight(self) -> Tensor:
        """W as the chapter writes it, (d, k): a view of the stored (k, d) matrix."""
        return self.weight_t.T

    def _cached(self, key: tuple, make: Callable[[], tuple]) -> tuple:
        """Buffers made once per key (a batch size: usually two an epoch, full batches and the last)."""
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._workspaces[key] = make()
        return ws

    def workspace(self, batch_size: int) -> _Workspace:
        """The torch path's buffers for this batch size."""
        opts = dict(dtype=self.weight_t.dtype, device=self.weight_t.device)
        return self._cached(("torch", batch_size), lambda: _Workspace(
            torch.empty(batch_size, self.num_inputs, **opts), torch.empty(self.num_outputs, batch_size, **opts),
            torch.full((1, batch_size), -1.0, **opts)))

    def kernel_workspace(self, batch_size: int) -> kernel.Workspace:
        return self._cached(("kernel", batch_size),
                            lambda: kernel.Workspace.new(batch_size, self.num_inputs, self.num_outputs))

    def matrix(self, X: Tensor, ws: _Workspace | None = None) -> tuple[Tensor, float]:
        """(B, ...) -> ((B, d) float, scale). uint8 pixels are converted as they are, 0..255, with
        scale 1/255 (into the workspace when given): the division rides on the matmuls' alpha."""
        if X.dtype != torch.uint8:
            X = X.detach() if X.requires_grad else X                     # never build a graph here
            return as_matrix(X, self.num_inputs, self.weight_t.dtype), 1.0
        if ws is None:
            return as_matrix(X, self.num_inputs, self.weight_t.dtype), 1.0 / 255.0
        if X.numel() != ws.x.numel():
            as_matrix(X, self.num_inputs, self.weight_t.dtype)         # raises the clear size error
        return ws.x.copy_(X.view(ws.x.shape)), 1.0 / 255.0            # uint8 -> float, no allocation

    def logits_t(self, X: Tensor, scale: float, out: Tensor | None = None) -> Tensor:
        """O^T = scale * W^T X^T + b."""
        return torch.addmm(self.bias_col, self.weight_t, X.T, alpha=scale, out=out)  # (k, d) @ (d, B) -> (k, B)

    @torch.no_grad()
    def forward(self, X: Tensor) -> Tensor:
        if kernel.usable(X, self.weight_t):
            return kernel.logits(X, self.weight_t, self.bias, 1.0 / 255.0, self.threads)  # (B, k)
        X, scale = self.matrix(X)
        return self.logits_t(X, scale).T                                               # (B, k)

    def update(self, X: Tensor, scale: float, G_t: Tensor, lr: float, weight_decay: float) -> None:
        """W <- (1 - lr wd) W - lr/B X^T G and b <- b - lr/B sum_i G_i, with G the summed-loss gradient."""
        B = X.shape[0]
        self.weight_t.addmm_(G_t, X, beta=1.0 - lr * weight_decay, alpha=-lr * scale / B)  # (k, B) @ (B, d) -> (k, d)
        self.bias.sub_(G_t.sum(1), alpha=lr / B)                                          # (k, B) -> (k,)

    # A data-parallel step (linnet.distributed) is a training step cut in two around the all-reduce:
    # the summed-loss gradient of this rank's rows, then the update over the global batch. The
    # compiled kernel fuses the two, so these run the torch code (same math, see the module doc).
    @torch.no_grad()
    def local_gradient(self, X: Tensor, y: Tensor) -> tuple[float, int, list[Tensor]]:
        """(summed loss, correct, [dL/dW^T (k, d), dL/db (k,)] of the summed loss), no step taken."""
        X, scale = self.matrix(X)                                           # (B, d)
        E_t = self.logits_t(X, scale)                                       # (k, B) logits
        loss_sum, correct = self.error_t(E_t, y.reshape(1, -1), torch.full_like(E_t[:1], -1.0))
        self._grads = [torch.mm(E_t, X).mul_(scale), E_t.sum(1)]          # (k, B) @ (B, d) -> (k, d); (k,)
        return loss_sum, correct, self._grads

    @torch.no_grad()
    def apply_gradient(self, lr: float, batch_size: int, weight_decay: float = 0.0) -> None:
        """W <- (1 - lr wd) W - lr/B dL/dW and b <- b - lr/B dL/db, from the (all-reduced) sums."""
        grad_w_t, grad_b = self._grads
        self.weight_t.mul_(1.0 - lr * weight_decay).sub_(grad_w_t, alpha=lr / batch_size)
        self.bias.sub_(grad_b, alpha=lr / batch_size)

    def state_dict(self) -> dict[str, Tensor]:
        return {self.names[0]: self.weight_t.T.clone(memory_format=torch.contiguous_format),
                self.names[1]: self.bias.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        w, b = check_state(state, {self.names[0]: self.weight.shape, self.names[1]: self.bias.shape})
        self.weight_t.copy_(w.T)
        self.bias.copy_(b)

    def to(self, device) -> "_ManualModel":
        self.weight_t, self.bias, self._workspaces = self.weight_t.to(device), self.bias.to(device), {}
        self.bias_col = self.bias[:, None]
        return self


class SoftmaxRegression(_ManualModel):
    """Softmax regression with the hand-written gradient softmax(o) - onehot(y) (see the module doc)."""
    kind = "softmax"
    names = ("W", "b")

    @torch.no_grad()
    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        X, scale = self.matrix(X)
        lsm = torch.log_softmax(self.logits_t(X, scale), 0)                 # (k, B)
        return -lsm.gather(0, y.view(1, -1)).view(-1)                       # (B,)

    def train_step(self, X: Tensor, y: Tensor, lr: float, weight_decay: float = 0.0) -> tuple[float, int]:
        if kernel.usable(X, self.weight_t):
            if y.numel() != len(X):
                raise ConfigError(f"The labels must be one per sample: {len(X)} samples, {y.numel()} labels.")
            loss, correct = self._kernel_steps(X, y, None, len(X), lr, weight_decay)
            return loss[0], correct[0]
        # No tensor here requires grad, so no no_grad() context is needed.
        ws = self.workspace(X.shape[0])
        X, scale = self.matrix(X, ws)                                       # (B, d)
        y_row = y.view(1, -1)                                               # (1, B) for gather / scatter
        O_t = self.logits_t(X, scale, out=ws.o_t)                           # (k, B)
        loss_sum, correct = self.error_t(O_t, y_row, ws.minus_ones)       # O_t becomes G^T
        self.update(X, scale, O_t, lr, weight_decay)
        return loss_sum, correct

    @staticmethod
    def error_t(O_t: Tensor, y_row: Tensor, minus_ones: Tensor) -> tuple[float, int]:
        """Logits O^T (k, B) -> G^T = P^T - onehot(y)^T in place; (summed loss, correct) before the update."""
        correct = (O_t.max(0).indices == y_row[0]).sum()                    # (argmax(0) is 5x slower)
        torch.log_softmax(O_t, 0, out=O_t)                                  # log P^T, in place
        log_p_true = O_t.gather(0, y_row).sum()                             # sum_i log P[i, y_i] = -loss
        O_t.exp_().scatter_add_(0, y_row, minus_ones)                       # P^T - onehot^T = G^T (times B)
        return -log_p_true.item(), correct.item()

    def can_train_rows(self, images: Tensor) -> bool:
        """Whether `train_rows` can take these resident images (uint8, CPU, kernel built)."""
        return kernel.usable(images, self.weight_t)

    def train_rows(self, images: Tensor, labels: Tensor, order: Tensor, batch_size: int, lr: float,
                   weight_decay: float = 0.0) -> Iterator[tuple[float, int, int]]:
        """The SGD steps over images[order] in minibatches of batch_size (one epoch), in the kernel:
        yields (summed loss, correct, batch size) per step, as train_step would have returned them."""
        chunk, n = batch_size * max(1, CHUNK_ROWS // batch_size), len(order)  # whole minibatches per kernel call
        for start in range(0, n, chunk):
            rows = min(chunk, n - start)
            losses, corrects = self._kernel_steps(images, labels, order[start:start + chunk], batch_size, lr,
                                                  weight_decay)
            for i, (loss, correct) in enumerate(zip(losses, corrects)):
                yield loss, correct, min(batch_size, rows - i * batch_size)
            if len(losses) < -(-rows // batch_size):
                return   # stopped at a non-finite loss, the last one yielded

    def evaluate_rows(self, images: Tensor, labels: Tensor) -> tuple[float, int]:
        """(summed loss, correct) over resident images (see `can_train_rows`), in the kernel: one call
        for the whole test set, no logits kept (what train.evaluate does batch by batch otherwise)."""
        return kernel.evaluate(images, labels.to(torch.int64).contiguous(), self.weight_t, self.bias, 1.0 / 255.0,
                               self.threads)

    def _kernel_steps(self, images: Tensor, labels: Tensor, index: Tensor | None, batch_size: int, lr: float,
                      weight_decay: float) -> tuple[list[float], list[int]]:
        return kernel.sgd_steps(images, labels.to(torch.int64).contiguous(), index, batch_size, self.weight_t,
                                self.bias, lr, weight_decay, 1.0 / 255.0, self.kernel_workspace(batch_size),
                                self.threads)


class LinearRegression(_ManualModel):
    """Linear regression with the hand-written gradient X^T (X w + b - y) (see the module doc)."""
    kind = "linear"
    names = ("w", "b")

    @torch.no_grad()
    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        r = self.forward(X) - y.reshape(-1, 1)                              # (B, 1)
        return 0.5 * r.square().view(-1)                                    # (B,)

    @torch.no_grad()
    def train_step(self, X: Tensor, y: Tensor, lr: float, weight_decay: float = 0.0) -> tuple[float, int]:
        ws = self.workspace(X.shape[0])
        X, scale = self.matrix(X, ws)                                       # (B, d)
        R_t = self.logits_t(X, scale, out=ws.o_t)                           # (1, d) @ (d, B) + b -> (1, B)
        loss, _ = self.error_t(R_t, y.view(1, -1))
        self.update(X, scale, R_t, lr, weight_decay)
        return loss, 0

    @staticmethod
    def error_t(R_t: Tensor, y_row: Tensor, minus_ones: Tensor | None = None) -> tuple[float, int]:
        """Predictions (1, B) -> residuals r = y_hat - y in place; (sum_i 1/2 r_i^2, 0) before the update."""
        R_t.sub_(y_row.reshape(R_t.shape))                                  # residual r = y_hat - y
        return (0.5 * R_t.square().sum()).item(), 0
