"""The compiled kernel's test evaluation (linnet_evaluate) and its vectorized softmax, against the torch code.

train.evaluate hands a resident uint8 test split to the kernel in one call; these tests hold that
call to the batch-by-batch torch path, to itself across thread counts, and check the softmax's
edge cases (logits far apart, NaN) where a polynomial exp could go wrong.
"""
import math

import pytest
import torch

from linnet.data.loader import Loader
from linnet.errors import DataError
from linnet.models import kernel
from linnet.train import evaluate

from test_kernel import FixedThreads, images_split, needs_kernel, softmax


def evaluate_both(monkeypatch, model, split, batch_size=64):
    """(kernel, torch code) results of train.evaluate over the same loader."""
    loader = Loader(split, batch_size)
    compiled = evaluate(model, loader)
    with monkeypatch.context() as m:
        m.setattr(kernel, "LIB", None)
        plain = evaluate(model, loader)
    return compiled, plain


@needs_kernel
@pytest.mark.parametrize("n, shape, k", [(1, (28, 28), 10), (255, (28, 28), 10), (257, (8, 8), 3),
                                         (600, (30, 30), 12), (33, (3, 5), 2), (10, (4, 6), 17)])
def test_evaluation_in_the_kernel_equals_the_torch_path(monkeypatch, n, shape, k):
    # n around the 256-row blocks, d off the 8/16-column tiles, k off the 5-class and 8-lane tiles
    split = images_split(n, shape, k)
    model = softmax(shape[0] * shape[1], k, seed=4)
    (loss_k, acc_k), (loss_t, acc_t) = evaluate_both(monkeypatch, model, split)
    assert loss_k == pytest.approx(loss_t, rel=1e-5)
    assert acc_k == pytest.approx(acc_t, abs=1.5 / n)                 # one near-tie may flip


@needs_kernel
def test_fit_evaluates_in_one_kernel_call_unless_the_loader_drops_rows(monkeypatch):
    test = images_split(300, (8, 8), seed=1)
    calls = []
    real = kernel.evaluate
    monkeypatch.setattr(kernel, "evaluate", lambda *a: calls.append(len(a[0])) or real(*a))
    model = softmax(64, 10)
    evaluate(model, Loader(test, 64))
    assert calls == [300]
    loss, acc = evaluate(model, Loader(test, 64, drop_last=True))   # 4 x 64 rows: the batches decide
    assert calls == [300]
    with monkeypatch.context() as m:
        m.setattr(kernel, "LIB", None)
        assert (loss, acc) == pytest.approx(evaluate(model, Loader(test, 64, drop_last=True)), rel=1e-5)


@needs_kernel
def test_the_evaluation_does_not_depend_on_the_thread_count():
    split = images_split(1000)
    model = softmax(784, 10, seed=2)
    results = []
    for count in (1, 2):
        model.threads = FixedThreads(count)
        results.append(evaluate(model, Loader(split, 100)))
    assert results[0] == results[1]                                    # the same bits


@needs_kernel
def test_a_test_label_outside_the_classes_is_named():
    split = images_split(300, (4, 4), k=3)
    split.labels[290] = 7
    with pytest.raises(DataError, match=r"Label 7 of sample 290 is outside the model's classes 0\.\.2"):
        evaluate(softmax(16, 3), Loader(split, 64))


@needs_kernel
def test_logits_far_apart_give_the_loss_of_the_torch_path(monkeypatch):
    # differences of hundreds between logits: exp(o - max) underflows for all but the largest
    split = images_split(50, (8, 8), k=10)
    model = softmax(64, 10, seed=5)
    model.weight_t.mul_(400.0)
    (loss_k, acc_k), (loss_t, acc_t) = evaluate_both(monkeypatch, model, split)
    assert loss_t > 10 and math.isfinite(loss_k)
    assert loss_k == pytest.approx(loss_t, rel=1e-5) and acc_k == acc_t


@needs_kernel
@pytest.mark.parametrize("bad_class", [0, 4, 9])
def test_a_nan_logit_in_any_class_makes_the_step_loss_nan(bad_class):
    split = images_split(40, (8, 8), k=10)
    model = softmax(64, 10)
    model.bias[bad_class] = float("nan")
    (loss, _correct, _size), *_ = model.train_rows(split.images, split.labels, torch.arange(40), 20, 0.1)
    assert math.isnan(loss)
