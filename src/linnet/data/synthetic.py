"""Synthetic linear-regression data: y = X w + b + noise, the chapter's first dataset."""
from __future__ import annotations

import torch

TRUE_W = (2.0, -3.4)  # the chapter's true parameters
TRUE_B = 4.2


def synthetic_data(w=TRUE_W, b: float = TRUE_B, n: int = 1000, noise: float = 0.01, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Features X ~ N(0, 1) of shape (n, len(w)) and labels y = X w + b + N(0, noise^2) of shape (n, 1)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.as_tensor(w, dtype=dtype).reshape(-1, 1)               # (d, 1)
    X = torch.randn(n, len(w), generator=g, dtype=dtype)             # (n, d)
    y = X @ w + b                                                     # (n, d) @ (d, 1) -> (n, 1)
    y += noise * torch.randn(y.shape, generator=g, dtype=dtype)
    return X, y
