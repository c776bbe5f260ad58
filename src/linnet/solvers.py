"""Reference solutions that SGD only approaches: least squares, and L-BFGS for softmax regression.

Both problems are convex, so a full-batch solver run to convergence finds the optimum that every
minibatch SGD run is heading for. Tests use these as the target, in float64 and to tight
tolerances; the training loop uses `lbfgs_softmax` for `--solver lbfgs` with TRAINING_LBFGS
(float32 and scikit-learn's stopping rule: the same accuracy in a fraction of the time). Both
return the input's dtype.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from linnet.checks import check_float, check_int
from linnet.errors import ConfigError


# `linnet train --solver lbfgs`: stop when the gradient's largest entry is below 1e-4, scikit-learn's
# LogisticRegression rule (gtol = tol = 1e-4 on the same mean objective), in float32. On 60k images,
# test accuracy is flat from ~40 iterations on, while tol 1e-9 in float64 ran all 500 iterations
# (80-85 s, issue 16); a float32 evaluation costs 0.42x a float64 one (measured, 60000 x 784).
TRAINING_LBFGS = {"tol": 1e-4, "max_iter": 500, "dtype": "float32", "history_size": 20}


def _check_data(X: Tensor, y: Tensor, dtype: torch.dtype = torch.float64) -> Tensor:
    """X (n, ...) -> (n, d) in `dtype`; n must match y's and be at least 1."""
    if X.dim() < 2 or X.shape[0] == 0 or len(y) != X.shape[0]:
        raise ConfigError(f"X must have shape (n, ...) with n >= 1 matching y's length. "
                          f"Got X {tuple(X.shape)} and y {tuple(y.shape)}.")
    return X.reshape(X.shape[0], -1).to(dtype)


def lstsq_linear(X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """The least-squares fit of y ~ X w + b: returns w (d, 1) and b (1,).

    Solves min ||[X 1] [w; b] - y||^2 with torch.linalg.lstsq (a QR / SVD solve, never the normal
    equations X^T X, whose condition number is the square of X's).
    """
    dtype = X.dtype if X.dtype.is_floating_point else torch.float32
    A = _check_data(X, y)                                               # (n, d)
    A = torch.cat([A, torch.ones(A.shape[0], 1, dtype=A.dtype, device=A.device)], 1)   # (n, d + 1)
    target = y.reshape(-1, 1).to(torch.float64)                         # (n, 1)
    driver = "gelsd" if A.device.type == "cpu" else None                # gelsd copes with rank deficiency; CUDA has only gels
    theta = torch.linalg.lstsq(A, target, driver=driver).solution       # (d + 1, 1)
    return theta[:-1].to(dtype), theta[-1].to(dtype)                    # (d, 1), (1,)


def softmax_objective(W: Tensor, b: Tensor, X: Tensor, y: Tensor, weight_decay: float = 0.0) -> Tensor:
    """Mean cross-entropy + weight_decay/2 ||W||^2 (bias not decayed): what the SGD runs minimise.

    An SGD step lr * (summed-loss gradient / B + weight_decay * W) is a stochastic gradient step
    on exactly this function, so the two are comparable.
    """
    return _objective_t(W.T, b, X.reshape(X.shape[0], -1).to(W.dtype), y, weight_decay)


def _objective_t(W_t: Tensor, b: Tensor, A: Tensor, y: Tensor, weight_decay: float) -> Tensor:
    """The same objective from the transposed weight W^T (k, d): F.linear on that layout measured
    3x faster than A @ W for (60000, 784) @ (784, 10) in float64 (0.18 s against 0.52 s a pass)."""
    O = F.linear(A, W_t, b)                                             # (n, d) @ (d, k) + (k,) -> (n, k)
    return F.cross_entropy(O, y) + 0.5 * weight_decay * W_t.square().sum()


def lbfgs_softmax(X: Tensor, y: Tensor, num_classes: int, weight_decay: float = 0.0, max_iter: int = 500,
                  tol: float = 1e-9, dtype: torch.dtype | str = torch.float64,
                  history_size: int = 20, progress: Callable[[int, float], None] | None = None) -> tuple[Tensor, Tensor]:
    """Full-batch softmax regression by L-BFGS (strong-Wolfe line search): W (d, k), b (k,).

    Starts from zero (the problem is convex: the start only changes the time taken) and stops
    when the gradient's largest entry is below `tol`, the objective changes by less than 1e-15
    per iteration, or after `max_iter` iterations. Without weight decay, linearly separable data
    have no finite optimum (the loss keeps falling as ||W|| grows); L-BFGS then stops at max_iter
    with a very small loss, which no SGD run beats either. `dtype` is the working precision:
    float64 for a reference optimum, float32 for speed when tol is far above its resolution.
    `progress(iteration, objective)` is called after every evaluation of the objective (a long
    solve on 60k images takes tens of seconds: the caller shows that it moves).
    """

    check_int("num_classes", num_classes, 2)
    check_int("max_iter", max_iter, 1)
    check_float("weight_decay", weight_decay, 0.0, low_open=False)
    check_float("tol", tol, 0.0)
    check_int("history_size", history_size, 1)
    work = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if not (isinstance(work, torch.dtype) and work.is_floating_point):
        raise ConfigError(f"The 'dtype' parameter must be a floating-point torch.dtype. Got {dtype!r}.")
    dtype = X.dtype if X.dtype.is_floating_point else torch.float32
    A = _check_data(X, y, work)                                         # (n, d)
    y = y.to(device=A.device, dtype=torch.int64)
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ConfigError(f"The labels must lie in [0, {num_classes - 1}] for num_classes={num_classes}. "
                          f"Got labels in [{int(y.min())}, {int(y.max())}].")
    W_t = torch.zeros(num_classes, A.shape[1], dtype=work, device=A.device, requires_grad=True)  # (k, d)
    b = torch.zeros(num_classes, dtype=work, device=A.device, requires_grad=True)
    opt = torch.optim.LBFGS([W_t, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-15,
                            history_size=history_size, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = _objective_t(W_t, b, A, y, weight_decay)
        loss.backward()
        if progress is not None:   # torch's LBFGS counts its iterations in the state of its first parameter
            progress(opt.state[W_t].get("n_iter", 0), float(loss.detach()))
        return loss

    opt.step(closure)   # one call runs the whole optimisation (up to max_iter iterations)
    return W_t.detach().T.contiguous().to(dtype), b.detach().to(dtype)
