"""linnet.models.kernel (the compiled inner loop of the fast model) against fast.py's torch code and scratch.

On an x86-64 machine with AVX2 (this project's machines, CI) the kernel must be built: the first
test fails otherwise, so a broken build cannot pass as a silently slower run.
"""
import importlib.util
import math
import os
import platform

import pytest
import torch

import linnet
from linnet.models import fast, kernel
from linnet.threads import PARALLEL_MIN_WORK
from linnet.data.loader import Loader
from linnet.data.dataset import Split
from linnet.errors import ConfigError, DataError
from linnet.train import TrainingDiverged, _takes_rows, fit

needs_kernel = pytest.mark.skipif(kernel.LIB is None, reason=f"kernel not loaded: {kernel.WHY_NOT}")


def avx2_machine() -> bool:
    return platform.machine() in ("x86_64", "AMD64") and \
        torch.backends.cpu.get_cpu_capability().startswith(("AVX2", "AVX512"))


@pytest.mark.skipif(not avx2_machine(), reason="the kernel is built for x86-64 CPUs with AVX2 only")
def test_kernel_is_built_and_loaded_on_an_avx2_machine():
    if os.environ.get("LINNET_KERNEL") == "0":
        pytest.skip("LINNET_KERNEL=0: the torch code was asked for")
    assert kernel.LIB is not None, kernel.WHY_NOT


def images_split(n, shape=(28, 28), k=10, seed=0) -> Split:
    """uint8 images, about half the pixels dark, labels from a linear teacher (the same for every seed)."""
    g = torch.Generator().manual_seed(seed)
    U = (torch.rand(n, *shape, generator=g) * 255 * (torch.rand(n, *shape, generator=g) < 0.5)).to(torch.uint8)
    teacher = torch.randn(U[0].numel(), k, generator=torch.Generator().manual_seed(1234))
    y = (U.reshape(n, -1).float() @ teacher).argmax(1)
    return Split(U, y)


def softmax(d, k, seed=1):
    return linnet.build_model("softmax", "fast", d, k, generator=torch.Generator().manual_seed(seed))


def train(model, split, test, batch_size, epochs=2, **kw):
    train_iter = Loader(split, batch_size, shuffle=True, seed=3)
    return fit(model, train_iter, Loader(test, 64), epochs, 0.1, **kw)


@pytest.fixture
def torch_path(monkeypatch):
    """linnet.fast without the kernel: its torch code, as on a machine where the build failed."""
    monkeypatch.setattr(kernel, "LIB", None)


# -- the kernel computes what the torch code computes ---------------------------------------------

CASES = [  # (image shape, classes, batch size, samples): d off the 8/16-column tiles, k off the 5-class
    ((28, 28), 10, 256, 1000),  # tiles, odd and one-row batches, a short last batch
    ((8, 8), 10, 16, 203),
    ((5, 5), 3, 7, 50),
    ((30, 30), 12, 33, 100),
    ((3, 5), 2, 1, 9),
    ((4, 6), 7, 5, 23),
]


@needs_kernel
@pytest.mark.parametrize("shape, k, batch_size, n", CASES)
def test_kernel_steps_equal_the_torch_path(monkeypatch, shape, k, batch_size, n):
    split, test = images_split(n, shape, k), images_split(31, shape, k, seed=1)
    d = shape[0] * shape[1]
    opts = dict(lr_schedule="exponential", lr_gamma=0.7, weight_decay=0.01)
    with_kernel = softmax(d, k)
    hist_kernel = train(with_kernel, split, test, batch_size, **opts)
    monkeypatch.setattr(kernel, "LIB", None)
    without = softmax(d, k)
    hist_torch = train(without, split, test, batch_size, **opts)
    for name in ("W", "b"):
        torch.testing.assert_close(with_kernel.state_dict()[name], without.state_dict()[name], atol=2e-6, rtol=1e-5)
    for a, b in zip(hist_kernel, hist_torch):
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-5)
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-5)
        assert a.train_acc == pytest.approx(b.train_acc, abs=1.5 / n)      # one near-tie may flip
        assert a.test_acc == pytest.approx(b.test_acc, abs=1.5 / 31)


@needs_kernel
def test_kernel_agrees_with_scratch_over_100_steps():
    split = images_split(320)
    U, y = split.images, split.labels
    k_model, s_model = softmax(784, 10), linnet.build_model("softmax", "scratch", 784, 10,
                                                           generator=torch.Generator().manual_seed(1))
    for step in range(100):
        rows = slice(32 * (step % 10), 32 * (step % 10) + 32)
        loss_k, correct_k = k_model.train_step(U[rows], y[rows], 0.1, 1e-3)
        loss_s, correct_s = s_model.train_step(U[rows].float() / 255, y[rows], 0.1, 1e-3)
        assert loss_k == pytest.approx(loss_s, rel=1e-5) and correct_k == correct_s
    for name in ("W", "b"):
        torch.testing.assert_close(k_model.state_dict()[name], s_model.state_dict()[name], atol=1e-5, rtol=0)


@needs_kernel
@pytest.mark.parametrize("n, shape, k", [(1, (28, 28), 10), (7, (5, 5), 3), (64, (30, 30), 12), (5, (2, 3), 1)])
def test_kernel_logits_equal_the_torch_forward(monkeypatch, n, shape, k):
    U = images_split(n, shape, max(k, 2)).images
    model = fast.SoftmaxRegression(torch.randn(U[0].numel(), k) * 0.1, torch.randn(k))
    compiled = model.forward(U)
    monkeypatch.setattr(kernel, "LIB", None)
    torch.testing.assert_close(compiled, model.forward(U), atol=1e-5, rtol=1e-5)
    assert compiled.shape == (n, k)


class FixedThreads:
    def __init__(self, count):
        self.count = count

    def plan(self, work):
        return self.count, None

    def best(self, work):
        return self.count

    def warming(self, work):
        return False

    def faster(self, work):
        return self.count

    def record(self, threads, rows, seconds, trial=False):
        pass


@needs_kernel
@pytest.mark.skipif(torch.get_num_threads() < 2, reason="one thread only")
def test_the_result_does_not_depend_on_the_thread_count():
    split, test = images_split(600), images_split(50, seed=1)
    states = []
    for threads in (1, 2):
        model = softmax(784, 10)
        model.threads = FixedThreads(threads)
        train(model, split, test, 64)
        states.append(model.state_dict())
    assert torch.equal(states[0]["W"], states[1]["W"]) and torch.equal(states[0]["b"], states[1]["b"])


@needs_kernel
def test_reading_the_batch_in_place_instead_of_its_copy_changes_no_result(monkeypatch):
    # batches over COPY_MAX_BYTES are not copied contiguous for the backward pass: the same bits
    split, test = images_split(600), images_split(50, seed=1)
    states = []
    for limit in (kernel.COPY_MAX_BYTES, 0):
        monkeypatch.setattr(kernel, "COPY_MAX_BYTES", limit)
        model = softmax(784, 10)
        train(model, split, test, 64)
        assert (model.kernel_workspace(64).batch_rows is None) == (limit == 0)
        states.append(model.state_dict())
    assert torch.equal(states[0]["W"], states[1]["W"]) and torch.equal(states[0]["b"], states[1]["b"])


@needs_kernel
@pytest.mark.parametrize("threads", [1, 2])
def test_prefetching_the_next_rows_changes_no_result(monkeypatch, threads):
    # shuffled order, a short last batch (600 = 9 x 64 + 24), both thread counts
    split, test = images_split(600), images_split(50, seed=1)
    states = []
    for prefetch in (True, False):
        monkeypatch.setattr(kernel, "PREFETCH", prefetch)
        model = softmax(784, 10)
        model.threads = FixedThreads(threads)
        train(model, split, test, 64)
        states.append(model.state_dict())
    assert torch.equal(states[0]["W"], states[1]["W"]) and torch.equal(states[0]["b"], states[1]["b"])


@needs_kernel
@pytest.mark.parametrize("n", [3000, 6000])   # 6000: a warm-up call in three pieces (trial, one thread, faster)
def test_a_trial_splits_a_call_without_changing_its_result(n):
    split = images_split(n, (8, 8))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    assert 512 * 64 >= PARALLEL_MIN_WORK and torch.get_num_threads() > 1 or pytest.skip("one thread")
    steps, states = [], []
    model_threads = kernel.ThreadChoice()
    for threads in (model_threads, FixedThreads(1)):
        model = softmax(64, 10)
        model.threads = threads
        steps.append(list(model.train_rows(split.images, split.labels, order, 512, 0.1)))
        states.append(model.state_dict())
    assert steps[0] == steps[1] and len(steps[0]) == -(-n // 512) and steps[0][-1][2] == n - (n // 512) * 512
    assert sum(model_threads.timings.values()) == (2 if n == 3000 else 3)   # the pieces of the call, timed
    assert torch.equal(states[0]["W"], states[1]["W"]) and torch.equal(states[0]["b"], states[1]["b"])


@needs_kernel
def test_an_epoch_in_the_kernel_equals_its_steps_one_by_one():
    split = images_split(203, (8, 8))
    loader = Loader(split, 16, shuffle=True, seed=5)
    whole, stepwise = softmax(64, 10), softmax(64, 10)
    results = list(whole.train_rows(split.images, split.labels, loader.epoch_order(2), 16, 0.2, 0.01))
    one_by_one = [(*stepwise.train_step(X, y, 0.2, 0.01), len(y)) for X, y in loader.epoch_batches(2, raw=True)]
    assert results == one_by_one
    assert len(results) == 13 and results[-1][2] == 203 - 12 * 16
    assert torch.equal(whole.weight_t, stepwise.weight_t) and torch.equal(whole.bias, stepwise.bias)


@needs_kernel
def test_train_rows_calls_the_kernel_in_chunks(monkeypatch):
    calls = []
    real = kernel.sgd_steps
    monkeypatch.setattr(kernel, "sgd_steps", lambda *a, **kw: calls.append(len(a[2])) or real(*a, **kw))
    monkeypatch.setattr(fast, "CHUNK_ROWS", 100)
    split = images_split(250, (4, 4))
    results = list(softmax(16, 10).train_rows(split.images, split.labels, torch.arange(250), 30, 0.1))
    assert calls == [90, 90, 70]                                      # whole minibatches per call
    assert [size for *_, size in results] == [30] * 8 + [10]


# -- fit goes through the kernel when it can, through train_step otherwise ------------------------

def count_kernel_epochs(monkeypatch) -> list:
    calls = []
    real = fast.SoftmaxRegression.train_rows
    monkeypatch.setattr(fast.SoftmaxRegression, "train_rows",
                        lambda self, *a, **kw: calls.append(1) or real(self, *a, **kw))
    return calls


@needs_kernel
def test_fit_walks_resident_uint8_images_in_the_kernel(monkeypatch):
    calls = count_kernel_epochs(monkeypatch)
    train(softmax(64, 10), images_split(40, (8, 8)), images_split(10, (8, 8)), 8, epochs=3)
    assert calls == [1, 1, 1]


@pytest.mark.parametrize("case", ["resize", "float images", "no kernel", "scratch model"])
def test_fit_steps_batch_by_batch_when_the_kernel_cannot_serve(monkeypatch, case):
    calls = count_kernel_epochs(monkeypatch)
    split, test = images_split(40, (8, 8)), images_split(10, (8, 8))
    model, resize = softmax(64, 10), None
    if case == "resize":
        model, resize = softmax(36, 10), 6
    elif case == "float images":
        split, test = Split(split.images.float() / 255, split.labels), Split(test.images.float() / 255, test.labels)
    elif case == "no kernel":
        monkeypatch.setattr(kernel, "LIB", None)
    elif case == "scratch model":
        model = linnet.build_model("softmax", "scratch", 64, 10)
    history = fit(model, Loader(split, 8, resize=resize), Loader(test, 8, resize=resize), 2, 0.1)
    assert calls == [] and len(history) == 2


@needs_kernel
def test_only_a_cpu_run_goes_to_the_kernel():
    loader = Loader(images_split(40, (8, 8)), 8)
    assert _takes_rows(softmax(64, 10), loader, None) and _takes_rows(softmax(64, 10), loader, "cpu")
    assert not _takes_rows(softmax(64, 10), loader, "cuda")
    assert not _takes_rows(softmax(64, 10), [(loader.split.images, loader.split.labels)], None)  # any iterable


# -- divergence and bad input -----------------------------------------------------------------------

@needs_kernel
def test_a_non_finite_loss_stops_the_kernel_at_that_step():
    split = images_split(200, (8, 8))
    model = softmax(64, 10)
    results = list(model.train_rows(split.images, split.labels, torch.arange(200), 10, 1e38))
    losses = [loss for loss, *_ in results]
    assert not torch.isfinite(torch.tensor(losses[-1])) and all(torch.isfinite(torch.tensor(losses[:-1])))
    assert len(results) < 20                                          # the steps after it never ran
    with pytest.raises(TrainingDiverged, match=rf"epoch 1, step {len(results)} \(lr 1e\+38\)"):
        fit(softmax(64, 10), Loader(split, 10), Loader(split, 10), 1, 1e38)


@needs_kernel
def test_a_label_outside_the_classes_is_named_and_nothing_is_applied():
    U = images_split(6, (4, 4)).images
    model = softmax(16, 3)
    W, b = model.weight_t.clone(), model.bias.clone()
    with pytest.raises(DataError, match=r"Label 3 of sample 4 is outside the model's classes 0\.\.2"):
        model.train_step(U, torch.tensor([0, 1, 2, 0, 3, 1]), 0.1)
    with pytest.raises(DataError, match=r"Label -1 of sample 0 "):
        model.train_step(U, torch.tensor([-1, 1, 2, 0, 1, 1]), 0.1)
    assert torch.equal(model.weight_t, W) and torch.equal(model.bias, b)


@needs_kernel
def test_labels_of_another_count_are_a_config_error():
    with pytest.raises(ConfigError, match=r"one per sample: 6 samples, 5 labels"):
        softmax(16, 3).train_step(images_split(6, (4, 4)).images, torch.zeros(5, dtype=torch.long), 0.1)


@needs_kernel
def test_images_the_kernel_cannot_read_go_to_the_torch_code():
    model = softmax(16, 3)
    U = images_split(8, (4, 8)).images[:, :, ::2]                     # a strided view, 4x4 of 16 features
    assert not U.is_contiguous() and not kernel.usable(U, model.weight_t)
    loss, _ = model.train_step(U, torch.zeros(8, dtype=torch.long), 0.1)
    assert loss > 0


# -- why the kernel is not there --------------------------------------------------------------------

def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("LINNET_KERNEL", "0")
    assert kernel._load() == (None, "turned off by LINNET_KERNEL=0")


def test_a_cpu_without_avx2_uses_the_torch_code(monkeypatch):
    monkeypatch.delenv("LINNET_KERNEL", raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    assert kernel._load() == (None, "the CPU lacks AVX2 (torch reports DEFAULT)")


def test_a_missing_build_uses_the_torch_code(monkeypatch):
    monkeypatch.delenv("LINNET_KERNEL", raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    lib, why = kernel._load()
    assert lib is None and why.startswith("not built")


def test_without_the_kernel_fast_still_trains(torch_path):
    history = train(softmax(64, 10), images_split(200, (8, 8)), images_split(50, (8, 8), seed=1), 16, epochs=3)
    assert history[-1].train_loss < history[0].train_loss and history[-1].test_acc > 0.3   # chance: 0.1


@needs_kernel
def test_a_trial_stops_at_a_non_finite_loss_like_any_call():
    split = images_split(3000, (8, 8))
    runs = []
    for threads in (kernel.ThreadChoice(), FixedThreads(1)):
        model = softmax(64, 10)
        model.threads = threads
        runs.append(list(model.train_rows(split.images, split.labels, torch.arange(3000), 512, 1e38)))
    assert len(runs[0]) == len(runs[1]) == 2                            # inside the trial's 4 steps
    assert runs[0][0] == runs[1][0] and all(math.isnan(r[-1][0]) for r in runs)
