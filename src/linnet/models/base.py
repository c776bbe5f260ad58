"""What the three implementations share: the Model interface the training loop codes against,
input and state checks, and the chapter's initialisation."""
from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from linnet.errors import ConfigError


class Model(Protocol):
    kind: str                       # "softmax" or "linear"
    num_inputs: int
    num_outputs: int

    def forward(self, X: Tensor) -> Tensor:
        """X (B, ...) -> logits (B, k) or predictions (B, 1), detached."""

    def train_step(self, X: Tensor, y: Tensor, lr: float, weight_decay: float = 0.0) -> tuple[float, int]:
        """One SGD step; returns (summed loss, number correct), both measured before the update."""

    def loss(self, X: Tensor, y: Tensor) -> Tensor:
        """Per-sample losses (B,), no grad."""

    def state_dict(self) -> dict[str, Tensor]:
        """{"W": (d, k), "b": (k,)} or {"w": (d, 1), "b": (1,)}: detached clones."""

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Copy values in, shape-checked."""

    def to(self, device) -> "Model":
        """Move the parameters; returns self."""


def as_matrix(X: Tensor, num_inputs: int, dtype: torch.dtype) -> Tensor:
    """(B, ...) -> (B, num_inputs) in the model's dtype; a clear error when the sizes disagree."""
    M = X.reshape(X.shape[0], -1)                                   # (B, 1, 28, 28) -> (B, 784), a view
    if M.shape[1] != num_inputs:
        raise ConfigError(f"The input must have {num_inputs} features per sample (the model's num_inputs). "
                          f"Got shape {tuple(X.shape)}, {M.shape[1]} features.")
    return M.to(dtype)                                              # no copy when the dtype already matches


def check_state(state: dict[str, Tensor], shapes: dict[str, tuple[int, ...]]) -> list[Tensor]:
    """The tensors of `state` in the order of `shapes`, after checking names and shapes exactly."""
    want = ", ".join(f"{k} {tuple(s)}" for k, s in shapes.items())
    try:
        got = ", ".join(f"{k} {tuple(v.shape)}" for k, v in state.items())
    except (AttributeError, TypeError):
        raise ConfigError(f"The state must be a dict of tensors {want}. Got {type(state).__name__}.") from None
    if set(state) != set(shapes) or any(tuple(state[k].shape) != tuple(s) for k, s in shapes.items()):
        raise ConfigError(f"The state must hold {want}. Got {got or 'nothing'}.")
    return [state[k] for k in shapes]


def init_params(num_inputs: int, num_outputs: int, generator: torch.Generator | None = None,
                dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor]:
    """The chapter's initialisation: weights ~ N(0, 0.01^2) of shape (d, k), bias 0 of shape (k,).

    Drawn on the CPU so that a seed gives the same weights whatever device the model goes to.
    """
    W = torch.normal(0.0, 0.01, (num_inputs, num_outputs), generator=generator, dtype=dtype)  # (d, k)
    return W, torch.zeros(num_outputs, dtype=dtype)                                            # (k,)
