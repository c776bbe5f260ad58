"""Linear and softmax regression the concise way: torch.nn layers, losses and torch.optim.SGD.

Same math as linnet.models.scratch, step for step. Two details make it so:
- the losses average over the batch (reduction 'mean'), and torch.optim.SGD steps by lr * grad:
  the gradient of the mean IS the summed gradient / batch_size that the chapter's `sgd` uses;
- weight decay sits in its own parameter group holding only the weight, so the bias is never
  decayed (SGD adds weight_decay * p to the gradient, the same L2 term as `sgd`).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from linnet.models.base import as_matrix, check_state


class _TorchModel:
    """Shared plumbing: nn.Sequential(Flatten, Linear) and an SGD with weight / bias groups."""
    kind: str
    names: tuple[str, str]

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        d, k = weight.shape
        # skip_init: no default (Kaiming) initialisation, so no hidden draw from the global RNG;
        # the values are copied in below, identical to the other implementations.
        linear = nn.utils.skip_init(nn.Linear, d, k, dtype=weight.dtype)
        with torch.no_grad():
            linear.weight.copy_(weight.T)                             # nn.Linear keeps W as (k, d)
            linear.bias.copy_(bias)
        self.net = nn.Sequential(nn.Flatten(), linear)
        self.linear = linear
        self.num_inputs, self.num_outputs = d, k
        # lr and weight_decay are placeholders: train_step sets them from its arguments every step.
        self.optimizer = torch.optim.SGD([{"params": [linear.weight], "weight_decay": 0.0},
                                          {"params": [linear.bias], "weight_decay": 0.0}], lr=0.1)

    def per_sample_loss(self, out: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def logits(self, X: Tensor) -> Tensor:
        return self.net(as_matrix(X, self.num_inputs, self.linear.weight.dtype))   # (B, d) -> (B, k)

    def forward(self, X: Tensor) -> Tensor:
        with torch.no_grad():
            return self.logits(X)

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        with torch.no_grad():
            return self.per_sample_loss(self.logits(X), y)            # (B,)

    def correct(self, out: Tensor, y: Tensor) -> int:
        """Correct predictions among the batch's outputs (0 for regression)."""
        return 0

    def _set_hyper(self, lr: float, weight_decay: float) -> None:
        weight_group, bias_group = self.optimizer.param_groups
        weight_group["lr"] = bias_group["lr"] = lr
        weight_group["weight_decay"] = weight_decay

    def train_step(self, X: Tensor, y: Tensor, lr: float, weight_decay: float = 0.0) -> tuple[float, int]:
        self._set_hyper(lr, weight_decay)
        out = self.logits(X)
        l = self.per_sample_loss(out, y)                              # (B,)
        self.optimizer.zero_grad()
        l.mean().backward()                                           # mean: SGD does not divide by B
        self.optimizer.step()
        return l.detach().sum().item(), self.correct(out.detach(), y)

    # A data-parallel step (linnet.distributed): the gradient of the SUMMED loss of this rank's rows,
    # all-reduced, then divided by the global batch size: DDP's semantics with uneven shards allowed.
    def local_gradient(self, X: Tensor, y: Tensor) -> tuple[float, int, list[Tensor]]:
        """(summed loss, correct, gradients of the summed loss) of this batch, no step taken."""
        out = self.logits(X)
        l = self.per_sample_loss(out, y)                              # (B,)
        self.optimizer.zero_grad(set_to_none=False)
        l.sum().backward()
        return l.detach().sum().item(), self.correct(out.detach(), y), [self.linear.weight.grad, self.linear.bias.grad]

    def apply_gradient(self, lr: float, batch_size: int, weight_decay: float = 0.0) -> None:
        """The SGD step from the (all-reduced) summed gradients in .grad, over a batch of batch_size."""
        for p in (self.linear.weight, self.linear.bias):
            p.grad.div_(batch_size)                                   # the sum -> the mean SGD expects
        self._set_hyper(lr, weight_decay)
        self.optimizer.step()

    def state_dict(self) -> dict[str, Tensor]:
        W = self.linear.weight.detach().T.clone(memory_format=torch.contiguous_format)   # (k, d) -> (d, k)
        return {self.names[0]: W, self.names[1]: self.linear.bias.detach().clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        shapes = {self.names[0]: (self.num_inputs, self.num_outputs), self.names[1]: (self.num_outputs,)}
        W, b = check_state(state, shapes)
        with torch.no_grad():
            self.linear.weight.copy_(W.T)
            self.linear.bias.copy_(b)

    def to(self, device) -> "_TorchModel":
        self.net.to(device)   # moves the parameters in place: the optimizer's references stay valid
        return self


class SoftmaxRegression(_TorchModel):
    """Softmax regression: Flatten + Linear(d, k) and CrossEntropyLoss (on logits, stable)."""
    kind = "softmax"
    names = ("W", "b")

    def __init__(self, W: Tensor, b: Tensor) -> None:
        super().__init__(W, b)
        # 'none' keeps the per-sample losses for reporting; step() takes their mean, which is
        # exactly CrossEntropyLoss(reduction='mean').
        self.criterion = nn.CrossEntropyLoss(reduction="none")

    def per_sample_loss(self, out: Tensor, y: Tensor) -> Tensor:
        return self.criterion(out, y)                                 # (B, k), (B,) -> (B,)

    def correct(self, out: Tensor, y: Tensor) -> int:
        return (out.argmax(-1) == y).sum().item()


class LinearRegression(_TorchModel):
    """Linear regression: Flatten + Linear(d, 1) and half the MSELoss.

    nn.MSELoss is (y_hat - y)^2 without the chapter's 1/2, so it is halved here: the losses, the
    gradients and hence the SGD steps then match squared_loss = 1/2 (y_hat - y)^2 exactly.
    """
    kind = "linear"
    names = ("w", "b")

    def __init__(self, w: Tensor, b: Tensor) -> None:
        super().__init__(w, b)
        self.criterion = nn.MSELoss(reduction="none")

    def per_sample_loss(self, out: Tensor, y: Tensor) -> Tensor:
        return 0.5 * self.criterion(out, y.reshape(out.shape)).reshape(-1)   # (B, 1) -> (B,)
