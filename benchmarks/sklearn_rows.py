"""scikit-learn on the chapter's data (pixels / 255), for the benchmark's reference rows.

- `SGDClassifier(loss="log_loss")`: the nearest scikit-learn has to the chapter's minibatch SGD.
  Its SGD updates one sample at a time, so the chapter's step (lr 0.1 on the mean gradient of 256
  samples, i.e. 0.1 / 256 per sample) becomes `learning_rate="constant", eta0=0.1 / 256`; `alpha=0`
  (the chapter has no weight decay), `max_iter=epochs, tol=None` (exactly that many epochs, no early
  stop), `shuffle=True, random_state=0`. It is one-vs-rest (10 binary logistic regressions), not a
  softmax; `n_jobs=-1` runs the 10 on all cores, as torch and linnet use all cores (--threads N: N).
- `LogisticRegression(solver="lbfgs")` with its defaults (C=1, tol=1e-4), multinomial, and
  `max_iter=1000` so that it stops on its tolerance rather than on the default 100 iterations.
  Its objective is mean cross-entropy + ||W||^2 / (2 C n), i.e. linnet's weight_decay = 1 / (C n):
  `lbfgs_row` runs linnet's solver, with the settings `linnet train --solver lbfgs` uses
  (TRAINING_LBFGS: float32, max |gradient| <= 1e-4), on that same objective: the two are comparable.
Data is read with linnet.data.idx (numpy only), so these rows carry no torch in their peak RSS.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from common import FILES

C = 1.0   # LogisticRegression's default


def load_numpy(data_dir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The four IDX files -> X_train (n, 784) float32 / 255, y_train, X_test, y_test."""
    from linnet.data.idx import read_idx
    Xtr, ytr, Xte, yte = (read_idx(Path(data_dir) / f) for f in FILES)
    flat = lambda X: X.reshape(len(X), -1).astype(np.float32) / np.float32(255)   # noqa: E731  (n, 784)
    return flat(Xtr), ytr.astype(np.int64), flat(Xte), yte.astype(np.int64)


def sgd_row(data_dir: str, epochs: int, batch_size: int = 256, lr: float = 0.1, n_jobs: int = -1) -> dict:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDClassifier
    Xtr, ytr, Xte, yte = load_numpy(data_dir)
    clf = SGDClassifier(loss="log_loss", penalty="l2", alpha=0.0, learning_rate="constant", eta0=lr / batch_size,
                        max_iter=epochs, tol=None, shuffle=True, random_state=0, n_jobs=n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # max_iter=epochs is the point, not a failure
        clf.fit(Xtr, ytr)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "test_acc": float(clf.score(Xte, yte)),
            "note": f"OvR, per-sample eta0={lr}/{batch_size}, alpha=0, epochs {epochs}"}


def logreg_row(data_dir: str) -> dict:
    from sklearn.linear_model import LogisticRegression
    Xtr, ytr, Xte, yte = load_numpy(data_dir)
    clf = LogisticRegression(solver="lbfgs", C=C, max_iter=1000)
    start = time.perf_counter()
    clf.fit(Xtr, ytr)
    seconds = time.perf_counter() - start
    W, b = clf.coef_.T, clf.intercept_                                   # (784, 10), (10,)
    return {"seconds": seconds, "test_acc": float(clf.score(Xte, yte)), "solution": (W, b, 1.0 / (C * len(ytr))),
            "note": f"C={C}, tol=1e-4, {int(clf.n_iter_.max())} iterations"}


def lbfgs_row(data_dir: str) -> dict:
    """linnet.solvers.lbfgs_softmax (what `linnet train --solver lbfgs` runs) on LogisticRegression's
    objective, from the same float32 data."""
    import torch

    from linnet.solvers import TRAINING_LBFGS, lbfgs_softmax
    Xtr, ytr, Xte, yte = load_numpy(data_dir)
    X, y = torch.from_numpy(Xtr), torch.from_numpy(ytr)                 # (n, 784) float32, (n,)
    wd = 1.0 / (C * len(ytr))
    start = time.perf_counter()
    W, b = lbfgs_softmax(X, y, 10, weight_decay=wd, **TRAINING_LBFGS)  # (784, 10), (10,)
    seconds = time.perf_counter() - start
    W, b = W.double().numpy(), b.double().numpy()
    acc = float(((Xte @ W + b).argmax(1) == yte).mean())                # (m, 784) @ (784, 10) -> (m, 10)
    return {"seconds": seconds, "test_acc": acc, "solution": (W, b, wd),
            "note": f"weight_decay=1/(C n)={wd:.2e}, {TRAINING_LBFGS['dtype']}, tol={TRAINING_LBFGS['tol']:g}"}



def objective(solution: tuple, data_dir: str) -> float:
    """linnet.solvers.softmax_objective at a row's (W, b, weight_decay), in float64: shows whether the
    two L-BFGS rows reach the same optimum. Called after the row's peak RSS is taken (it imports torch)."""
    import torch

    from linnet.solvers import softmax_objective
    W, b, wd = solution
    Xtr, ytr, _, _ = load_numpy(data_dir)
    return float(softmax_objective(torch.from_numpy(W), torch.from_numpy(b), torch.from_numpy(Xtr).double(),
                                   torch.from_numpy(ytr), wd))
