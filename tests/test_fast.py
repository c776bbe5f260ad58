"""linnet.fast: the hand-written gradients against autograd, float64; no autograd inside."""
import pytest
import torch
import torch.nn.functional as F

from linnet.models import fast
from linnet.errors import ConfigError

DT = torch.float64


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(16, 1, 3, 4, generator=g, dtype=DT)             # flattened to 12 features inside
    return X, torch.randint(0, 5, (16,), generator=g)


def params(d, k, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(d, k, generator=g, dtype=DT) * 0.5, torch.randn(k, generator=g, dtype=DT) * 0.5


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_softmax_step_is_the_autograd_step(batch, weight_decay):
    X, y = batch
    W0, b0 = params(12, 5)
    W, b = W0.clone().requires_grad_(), b0.clone().requires_grad_()
    l = F.cross_entropy(X.reshape(16, -1) @ W + b, y, reduction="sum")
    l.backward()
    lr = 0.3
    W_ref = W0 - lr * (W.grad / 16 + weight_decay * W0)
    b_ref = b0 - lr * b.grad / 16                                   # the bias is never decayed

    model = fast.SoftmaxRegression(W0, b0)
    loss_sum, correct = model.train_step(X, y, lr, weight_decay)
    torch.testing.assert_close(model.weight, W_ref)
    torch.testing.assert_close(model.bias, b_ref)
    assert loss_sum == pytest.approx(l.item())
    assert correct == ((X.reshape(16, -1) @ W0 + b0).argmax(1) == y).sum().item()


def test_gradient_is_softmax_minus_onehot(batch):
    X, y = batch
    O = torch.randn(16, 5, dtype=DT, requires_grad=True)
    F.cross_entropy(O, y, reduction="sum").backward()
    torch.testing.assert_close(O.grad, F.softmax(O.detach(), 1) - F.one_hot(y, 5).to(DT))


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_linear_step_is_the_autograd_step(weight_decay):
    g = torch.Generator().manual_seed(2)
    X, y = torch.randn(10, 3, generator=g, dtype=DT), torch.randn(10, 1, generator=g, dtype=DT)
    w0, b0 = params(3, 1)
    w, b = w0.clone().requires_grad_(), b0.clone().requires_grad_()
    l = (0.5 * (X @ w + b - y) ** 2).sum()
    l.backward()
    model = fast.LinearRegression(w0, b0)
    loss_sum, correct = model.train_step(X, y.reshape(-1), 0.1, weight_decay)
    torch.testing.assert_close(model.weight, w0 - 0.1 * (w.grad / 10 + weight_decay * w0))
    torch.testing.assert_close(model.bias, b0 - 0.1 * b.grad / 10)
    assert (loss_sum, correct) == (pytest.approx(l.item()), 0)


def test_no_autograd_even_for_inputs_that_require_grad(batch):
    X, y = batch
    model = fast.SoftmaxRegression(*params(12, 5))
    model.train_step(X.clone().requires_grad_(), y, 0.1)
    assert not model.weight.requires_grad and not model.bias.requires_grad
    assert not model.forward(X.clone().requires_grad_()).requires_grad


def test_buffer_is_reused_and_follows_the_batch_size(batch):
    X, y = batch
    model = fast.SoftmaxRegression(*params(12, 5))
    model.train_step(X, y, 0.1)
    ws = model.workspace(16)
    model.train_step(X, y, 0.1)
    assert model.workspace(16) is ws                                # same batch size: no allocation
    model.train_step(X[:3], y[:3], 0.1)                             # a short last batch
    assert model.workspace(3).o_t.shape == (5, 3)                   # stored transposed: (k, B)
    assert model.workspace(16) is ws                                # full batches keep theirs


def test_uint8_images_are_the_same_step_as_floats_divided_by_255():
    g = torch.Generator().manual_seed(3)
    U = torch.randint(0, 256, (16, 1, 3, 4), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 5, (16,), generator=g)
    W0, b0 = params(12, 5)
    a, b = fast.SoftmaxRegression(W0, b0), fast.SoftmaxRegression(W0, b0)
    loss_u8, correct_u8 = a.train_step(U, y, 0.3, 0.01)
    loss_f, correct_f = b.train_step(U.to(DT) / 255, y, 0.3, 0.01)
    assert loss_u8 == pytest.approx(loss_f, rel=1e-12) and correct_u8 == correct_f
    torch.testing.assert_close(a.weight, b.weight, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(a.forward(U), b.forward(U.to(DT) / 255), rtol=1e-12, atol=1e-14)


def test_uint8_batch_of_the_wrong_size_is_a_clear_error():
    model = fast.SoftmaxRegression(*params(12, 5))
    with pytest.raises(ConfigError, match=r"must have 12 features per sample.*Got shape \(4, 2, 5\), 10 features"):
        model.train_step(torch.zeros(4, 2, 5, dtype=torch.uint8), torch.zeros(4, dtype=torch.long), 0.1)


def test_huge_logits_stay_finite():
    # Logits around +-1000 would overflow a naive softmax; the in-place shift keeps exp <= 1.
    W = torch.tensor([[1000.0, 0.0, -1000.0]])
    model = fast.SoftmaxRegression(W, torch.zeros(3))
    loss_sum, _ = model.train_step(torch.ones(2, 1), torch.tensor([0, 2]), 0.1)
    assert loss_sum == pytest.approx(2000.0)
    assert torch.isfinite(model.weight).all() and torch.isfinite(model.bias).all()


def test_loss_matches_torch(batch):
    X, y = batch
    model = fast.SoftmaxRegression(*params(12, 5))
    torch.testing.assert_close(model.loss(X, y), F.cross_entropy(model.forward(X), y, reduction="none"))
