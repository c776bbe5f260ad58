"""linnet.solvers: least squares and L-BFGS reach the optima that the SGD runs approach."""
import pytest
import torch
from helpers_train import run_sgd

from linnet.data.synthetic import synthetic_data
from linnet.errors import ConfigError
from linnet.models import IMPLS, build_model
from linnet.solvers import lbfgs_softmax, lstsq_linear, softmax_objective


@pytest.fixture(scope="module")
def blobs():
    """600 samples of 5 features in 4 overlapping classes: not separable, so a finite optimum exists."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 5, generator=g)
    y = torch.randint(0, 4, (600,), generator=g)
    return centres[y] + 1.5 * torch.randn(600, 5, generator=g), y


def test_lstsq_is_exact_without_noise():
    X, y = synthetic_data(w=[1.0, -2.0, 0.5], b=3.0, n=50, noise=0.0, dtype=torch.float64)
    w, b = lstsq_linear(X, y)
    torch.testing.assert_close(w, torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64))
    torch.testing.assert_close(b, torch.tensor([3.0], dtype=torch.float64))
    assert w.shape == (3, 1) and b.shape == (1,)


def test_lstsq_solves_the_normal_equations():
    X, y = synthetic_data(n=100, noise=0.5, seed=3)
    w, b = lstsq_linear(X, y.reshape(-1))
    assert w.dtype == torch.float32
    A = torch.cat([X, torch.ones(100, 1)], 1).double()
    theta = torch.linalg.solve(A.T @ A, A.T @ y.double())
    torch.testing.assert_close(torch.cat([w.reshape(-1), b]).double(), theta.reshape(-1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_lbfgs_reaches_a_stationary_point(blobs, weight_decay):
    X, y = blobs
    W, b = lbfgs_softmax(X, y, 4, weight_decay=weight_decay)
    assert W.shape == (5, 4) and b.shape == (4,) and W.dtype == torch.float32
    W64, b64 = W.double().requires_grad_(), b.double().requires_grad_()
    softmax_objective(W64, b64, X.double(), y, weight_decay).backward()
    assert W64.grad.abs().max() < 1e-5 and b64.grad.abs().max() < 1e-5


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("impl", IMPLS)
def test_no_sgd_run_beats_lbfgs(blobs, impl, weight_decay):
    X, y = blobs
    W, b = lbfgs_softmax(X, y, 4, weight_decay=weight_decay)
    best = softmax_objective(W.double(), b.double(), X.double(), y, weight_decay).item()
    batches = [(X[i:i + 50], y[i:i + 50]) for i in range(0, 600, 50)]
    model = build_model("softmax", impl, 5, 4, generator=torch.Generator().manual_seed(0))
    run_sgd(model, batches, lr=0.1, epochs=20, schedule="exponential", gamma=0.9, weight_decay=weight_decay)
    s = model.state_dict()
    reached = softmax_objective(s["W"].double(), s["b"].double(), X.double(), y, weight_decay).item()
    assert reached > best - 1e-4
    assert reached < best + 0.02                                     # and SGD does get close


def test_weight_decay_shrinks_the_weights_not_the_bias(blobs):
    X, y = blobs
    W0, _ = lbfgs_softmax(X, y, 4)
    W1, _ = lbfgs_softmax(X, y, 4, weight_decay=1.0)
    assert W1.norm() < 0.5 * W0.norm()


@pytest.mark.parametrize("kwargs, message", [
    ({"num_classes": 1}, r"The 'num_classes' parameter must be an int >= 2\. Got 1\."),
    ({"weight_decay": -1.0}, r"The 'weight_decay' parameter must be a float in \[0, inf\)\. Got -1\.0\."),
    ({"max_iter": 0}, r"The 'max_iter' parameter must be an int >= 1\. Got 0\."),
    ({"num_classes": 3}, r"The labels must lie in \[0, 2\] for num_classes=3\. Got labels in \[0, 3\]\."),
])
def test_lbfgs_validation(blobs, kwargs, message):
    X, y = blobs
    with pytest.raises(ConfigError, match=message):
        lbfgs_softmax(X, y, **{"num_classes": 4, **kwargs})


def test_mismatched_lengths_are_config_errors():
    with pytest.raises(ConfigError, match=r"X must have shape \(n, \.\.\.\) .* Got X \(3, 2\) and y \(4,\)\."):
        lstsq_linear(torch.zeros(3, 2), torch.zeros(4))


def test_the_training_settings_reach_the_precise_optimums_accuracy(blobs):
    # float32 and scikit-learn's tol (what `linnet train --solver lbfgs` uses) against float64 at 1e-9
    from linnet.solvers import TRAINING_LBFGS
    X, y = blobs
    W, b = lbfgs_softmax(X, y, 4, weight_decay=0.01)
    W32, b32 = lbfgs_softmax(X, y, 4, weight_decay=0.01, **TRAINING_LBFGS)
    assert W32.dtype == torch.float32
    precise = softmax_objective(W.double(), b.double(), X.double(), y, 0.01).item()
    fast = softmax_objective(W32.double(), b32.double(), X.double(), y, 0.01).item()
    assert precise <= fast < precise + 1e-4
    assert torch.equal((X @ W32 + b32).argmax(1), (X @ W + b).argmax(1))


@pytest.mark.parametrize("dtype", ["int32", torch.int64, "float9", None])
def test_lbfgs_working_precision_must_be_a_float_dtype(blobs, dtype):
    X, y = blobs
    with pytest.raises(ConfigError, match=r"The 'dtype' parameter must be a floating-point torch.dtype"):
        lbfgs_softmax(X, y, 4, dtype=dtype)


def test_lbfgs_reports_its_progress(blobs):
    X, y = blobs
    seen = []
    W, b = lbfgs_softmax(X, y, 4, progress=lambda i, loss: seen.append((i, loss)))
    iterations = [i for i, _ in seen]
    assert len(seen) > 5 and iterations == sorted(iterations) and iterations[-1] > iterations[0]
    assert seen[0][1] == pytest.approx(torch.log(torch.tensor(4.0)).item())     # from zero: log(k) at the start
    final = softmax_objective(W.double(), b.double(), X.double(), y).item()
    assert min(loss for _, loss in seen) == pytest.approx(final, rel=1e-6)
