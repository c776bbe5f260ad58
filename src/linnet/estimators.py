"""scikit-learn estimators over linnet's models and loop: SoftmaxRegression and LinearRegression.

`fit(X, y)` on NumPy arrays (anything array-like) builds a linnet model (linnet.models.build_model),
puts the rows in a linnet Loader and trains with linnet.train.fit: the same loop, the same three
implementations and the same SGD step as `linnet train`. scikit-learn's conventions hold: __init__
only stores the parameters, input is validated by scikit-learn's own helpers, fitted state ends in
`_`, fit returns self; so both go into a Pipeline, GridSearchCV or cross_val_score.

They compute in float64, scikit-learn's own precision: predictions for a subset of rows then equal
those made for the whole array to ~1e-15, as scikit-learn's estimator checks require (1e-7).
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from linnet.checks import check_choice, check_float, check_int
from linnet.config import IMPLS
from linnet.data.loader import Loader
from linnet.data.dataset import Split
from linnet.functional import softmax
from linnet.models import build_model
from linnet.solvers import lbfgs_softmax, lstsq_linear
from linnet.train import fit


def _plain(value):
    """NumPy scalars (what GridSearchCV hands over from an np.arange grid) as Python numbers."""
    return value.item() if isinstance(value, np.generic) else value


def _tensor(A: np.ndarray) -> torch.Tensor:
    """A validated float64 array as a tensor sharing its memory (copied only when read-only:
    torch cannot hold a read-only buffer; a memory-mapped X, for one, is read-only)."""
    return torch.from_numpy(A if A.flags.writeable else A.copy())


class _LinearModelEstimator(BaseEstimator):
    """What both estimators share: the parameters, a model built and trained by linnet, prediction."""
    _model: str                          # linnet.models.build_model's name: "softmax" or "linear"
    _solvers: tuple[str, ...]            # "sgd" first, then the closed-form / full-batch solver

    def __init__(self, *, lr=0.1, batch_size=32, epochs=10, impl="fast", solver="sgd", weight_decay=0.0,
                 lr_decay=None, random_state=None):
        # Defaults: batch 32 and 10 epochs suit scikit-learn-sized data (hundreds to thousands of
        # rows: 10-100 SGD steps an epoch); lr 0.1 is the chapter's, good on standardised features.
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.impl = impl
        self.solver = solver
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False        # a dense (n, d) tensor is what the models multiply
        tags.input_tags.allow_nan = False
        tags.target_tags.multi_output = False  # one label (or one target value) per sample
        return tags

    # -- parameters ----------------------------------------------------------------------------
    def _checked_params(self) -> dict:
        """The parameters, validated the linnet way ("The 'lr' parameter must be ... Got ...")."""
        p = {name: _plain(getattr(self, name)) for name in ("lr", "batch_size", "epochs", "weight_decay", "lr_decay")}
        check_float("lr", p["lr"], 0.0)
        check_int("batch_size", p["batch_size"], 1)
        check_int("epochs", p["epochs"], 1)
        check_choice("impl", self.impl, IMPLS)
        check_choice("solver", self.solver, self._solvers)
        check_float("weight_decay", p["weight_decay"], 0.0, low_open=False)
        if p["lr_decay"] is not None:
            check_float("lr_decay", p["lr_decay"], 0.0, 1.0, high_open=False)   # 1: no decay
        return p

    # -- training --------------------------------------------------------------------------------
    def _start(self, num_inputs: int, num_outputs: int) -> None:
        """A fresh model, initialised as the chapter does from a seed drawn from random_state."""
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        g = torch.Generator().manual_seed(self._seed)
        self.model_ = build_model(self._model, self.impl, num_inputs, num_outputs, generator=g, dtype=torch.float64)
        self.history_ = []

    def _train(self, X: np.ndarray, targets: torch.Tensor, epochs: int, p: dict) -> None:
        """`epochs` more SGD epochs over (X, targets) with linnet.train.fit, continuing the epoch count.

        fit evaluates after each epoch; with no test split here it measures the training rows
        themselves, in order: history_[i].test_loss is the loss on X after epoch i + 1.
        """
        split = Split(_tensor(X), targets)                             # (n, d) float64, labels (n,) or (n, 1)
        train_iter = Loader(split, p["batch_size"], shuffle=True, seed=self._seed)
        eval_iter = Loader(split, max(p["batch_size"], 1024))
        decay = p["lr_decay"]
        self.history_ = fit(self.model_, train_iter, eval_iter, epochs, p["lr"],
                            lr_schedule="constant" if decay is None else "exponential", lr_gamma=decay or 1.0,
                            weight_decay=p["weight_decay"], start_epoch=len(self.history_), history=self.history_)
        self._publish()

    def _fit(self, X, y, p: dict):
        targets, num_outputs = self._targets(y, first=True)
        self._start(X.shape[1], num_outputs)
        if self.solver == "sgd":
            self._train(X, targets, p["epochs"], p)
        else:
            self.model_.load_state_dict(self._solve(_tensor(X), targets, p))
            self._publish()
        return self

    def _partial_fit(self, X, y, first: bool, p: dict, classes=None):
        targets, num_outputs = self._targets(y, first, classes)
        if first:
            self._start(X.shape[1], num_outputs)
        self._train(X, targets, 1, p)
        return self

    def _publish(self) -> None:
        """coef_ and intercept_ as scikit-learn names them, copied out of the model's state."""
        W, b = (t.numpy() for t in self.model_.state_dict().values())   # (d, k), (k,)
        self.n_iter_ = len(self.history_)
        self.coef_, self.intercept_ = self._coef(W, b)

    # -- prediction ------------------------------------------------------------------------------
    def _outputs(self, X) -> np.ndarray:
        """The model's outputs for X: logits (n, k) or predictions (n, 1), after the checks."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64, order="C")
        return self.model_.forward(_tensor(X)).numpy()


class SoftmaxRegression(ClassifierMixin, _LinearModelEstimator):
    """Softmax regression (multinomial logistic regression) trained by linnet's SGD loop.

    Parameters: lr, batch_size, epochs (SGD epochs of `fit`), impl ('fast' | 'scratch' |
    'concise'), solver ('sgd' | 'lbfgs': full-batch L-BFGS to the optimum), weight_decay (L2 on the
    weights, not the bias), lr_decay (lr * lr_decay^epoch; None keeps it constant), random_state.

    Fitted: classes_, n_features_in_, coef_ (n_classes, n_features), intercept_ (n_classes,),
    n_iter_ (epochs trained), history_ (linnet EpochRecords), model_ (the linnet model).
    Unlike scikit-learn's LogisticRegression, coef_ has a row per class for two classes as well.
    """
    _model = "softmax"
    _solvers = ("sgd", "lbfgs")

    def fit(self, X, y):
        p = self._checked_params()
        X, y = validate_data(self, X, y, dtype=np.float64, order="C")
        return self._fit(X, y, p)

    def partial_fit(self, X, y, classes=None):
        """One more epoch over (X, y), continuing from the current weights (the chapter's
        "continue training"); the first call needs `classes`, all the labels there will be."""
        p = self._checked_params()
        first = not hasattr(self, "model_")
        if first and classes is None:  # one batch may hold only some of the classes
            raise ValueError("The 'classes' parameter must be given on the first call to partial_fit. Got None.")
        X, y = validate_data(self, X, y, reset=first, dtype=np.float64, order="C")
        return self._partial_fit(X, y, first, p, classes)

    def _targets(self, y, first: bool, classes=None) -> tuple[torch.Tensor, int]:
        """Labels -> class indices (n,) int64, and the number of classes."""
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes in y. "
                                 f"Got 1 class: {self.classes_.tolist()[0]!r}.")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"The 'classes' parameter must equal classes_ {self.classes_.tolist()} after the "
                             f"first call to partial_fit. Got {np.unique(classes).tolist()}.")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y holds labels that are not in classes_ {self.classes_.tolist()}: {unknown.tolist()}.")
        return torch.from_numpy(np.searchsorted(self.classes_, y).astype(np.int64)), len(self.classes_)

    def _solve(self, X: torch.Tensor, targets: torch.Tensor, p: dict) -> dict:
        W, b = lbfgs_softmax(X, targets, len(self.classes_), weight_decay=p["weight_decay"])
        return {"W": W, "b": b}

    @staticmethod
    def _coef(W, b):
        return W.T.copy(), b.copy()                                     # (k, d), (k,)

    def decision_function(self, X) -> np.ndarray:
        """Logits (n, n_classes); for two classes, scikit-learn's (n,) score: logit 1 - logit 0."""
        O = self._outputs(X)                                            # (n, k)
        return O[:, 1] - O[:, 0] if O.shape[1] == 2 else O

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n, n_classes): the softmax of the logits, columns in classes_ order."""
        return softmax(torch.from_numpy(self._outputs(X))).numpy()

    def predict_log_proba(self, X) -> np.ndarray:
        return torch.log_softmax(torch.from_numpy(self._outputs(X)), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        index = self._outputs(X).argmax(axis=1)                         # first: it raises NotFittedError
        return self.classes_[index]


class LinearRegression(RegressorMixin, _LinearModelEstimator):
    """Linear regression trained by linnet's SGD loop (squared loss, the chapter's 1/2 (y_hat - y)^2).

    Parameters as SoftmaxRegression's, except solver: 'sgd' | 'lstsq' (the exact least-squares
    solution, linnet.solvers.lstsq_linear; it has no weight decay).
    Fitted: n_features_in_, coef_ (n_features,), intercept_ (float), n_iter_, history_, model_.
    """
    _model = "linear"
    _solvers = ("sgd", "lstsq")

    def fit(self, X, y):
        p = self._checked_params()
        X, y = validate_data(self, X, y, dtype=np.float64, order="C", y_numeric=True)
        return self._fit(X, y, p)

    def partial_fit(self, X, y):
        """One more epoch over (X, y), continuing from the current weights."""
        p = self._checked_params()
        first = not hasattr(self, "model_")
        X, y = validate_data(self, X, y, reset=first, dtype=np.float64, order="C", y_numeric=True)
        return self._partial_fit(X, y, first, p)

    def _targets(self, y, first: bool, classes=None) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(np.asarray(y, dtype=np.float64).reshape(-1, 1).copy()), 1   # (n, 1)

    def _solve(self, X: torch.Tensor, targets: torch.Tensor, p: dict) -> dict:
        if p["weight_decay"]:
            raise ValueError(f"The 'weight_decay' parameter must be 0 with solver='lstsq' (plain least squares). "
                             f"Got {p['weight_decay']!r}.")
        w, b = lstsq_linear(X, targets)
        return {"w": w, "b": b}

    @staticmethod
    def _coef(w, b):
        return w[:, 0].copy(), float(b[0])                             # (d,), scalar

    def predict(self, X) -> np.ndarray:
        return self._outputs(X)[:, 0]                                   # (n, 1) -> (n,)
