"""Metrics: accuracy, running sums (the chapter's Accumulator) and the confusion matrix."""
from __future__ import annotations

import torch


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> int:
    """Number of correct predictions: argmax of the logits (B, k) against labels (B,)."""
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return int((y_hat.to(y.dtype) == y).sum())


class Accumulator:
    """Running sums of n quantities (e.g. loss sum, correct count, sample count)."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args: float) -> None:
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(k, k) counts: row = true class, column = predicted class."""
    idx = y_true.long() * num_classes + y_pred.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(matrix: torch.Tensor) -> list[float | None]:
    """Recall of each class from a confusion matrix: correct / samples of that class (None if none)."""
    totals = matrix.sum(dim=1)
    return [float(matrix[i, i]) / float(totals[i]) if totals[i] else None for i in range(len(matrix))]


def per_class_table(classes, matrix: torch.Tensor) -> list[dict]:
    """Per-class accuracy as rows in label order: {"label", "class", "acc", "samples"}.

    A list, not a {class: acc} mapping: JSON files are written with sorted keys, which would put
    "Ankle boot" before "T-shirt/top"; every reader (summary.json, the report, `evaluate --json`)
    keeps label order this way."""
    totals = matrix.sum(dim=1).tolist()
    return [{"label": i, "class": c, "acc": acc, "samples": int(n)}
            for i, (c, acc, n) in enumerate(zip(classes, per_class_accuracy(matrix), totals))]
