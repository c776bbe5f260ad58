"""linnet.concise: built from torch.nn / torch.optim, and the same step as the chapter's sgd."""
import pytest
import torch
from torch import nn

from linnet.functional import squared_loss
from linnet.models import build_model, concise, scratch

DT = torch.float64


def params(d, k):
    g = torch.Generator().manual_seed(0)
    return torch.randn(d, k, generator=g, dtype=DT), torch.randn(k, generator=g, dtype=DT)


def test_softmax_is_flatten_linear_with_weight_transposed():
    W, b = params(6, 3)
    model = concise.SoftmaxRegression(W, b)
    assert [type(m) for m in model.net] == [nn.Flatten, nn.Linear]
    assert torch.equal(model.net[1].weight, W.T) and torch.equal(model.net[1].bias, b)
    assert isinstance(model.criterion, nn.CrossEntropyLoss)
    assert isinstance(model.optimizer, torch.optim.SGD) and len(model.optimizer.param_groups) == 2


def test_building_draws_nothing_from_the_global_rng():
    # nn.Linear's default init would consume the global RNG; skip_init avoids that hidden side effect.
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    build_model("softmax", "concise", 784, generator=torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_softmax_step_equals_scratch_sgd(weight_decay):
    W, b = params(6, 3)
    X, y = torch.randn(8, 2, 3, dtype=DT), torch.tensor([0, 1, 2, 0, 1, 2, 0, 0])
    a, c = scratch.SoftmaxRegression(W, b), concise.SoftmaxRegression(W, b)
    for lr in (0.5, 0.2):                                           # lr changes between steps
        assert a.train_step(X, y, lr, weight_decay) == pytest.approx(c.train_step(X, y, lr, weight_decay))
    torch.testing.assert_close(c.state_dict()["W"], a.state_dict()["W"])
    torch.testing.assert_close(c.state_dict()["b"], a.state_dict()["b"])
    assert c.optimizer.param_groups[1]["weight_decay"] == 0.0       # never on the bias


def test_linear_loss_is_half_mse():
    w, b = params(3, 1)
    model = concise.LinearRegression(w, b)
    X, y = torch.randn(5, 3, dtype=DT), torch.randn(5, dtype=DT)
    torch.testing.assert_close(model.loss(X, y), squared_loss(X @ w + b, y).reshape(-1))


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_linear_step_equals_scratch_sgd(weight_decay):
    w, b = params(3, 1)
    X, y = torch.randn(7, 3, dtype=DT), torch.randn(7, 1, dtype=DT)
    a, c = scratch.LinearRegression(w, b), concise.LinearRegression(w, b)
    for _ in range(3):
        assert a.train_step(X, y, 0.1, weight_decay) == pytest.approx(c.train_step(X, y, 0.1, weight_decay))
    torch.testing.assert_close(c.state_dict()["w"], a.state_dict()["w"])
    torch.testing.assert_close(c.state_dict()["b"], a.state_dict()["b"])


def test_state_dict_is_contiguous_d_by_k():
    W, b = params(6, 3)
    state = concise.SoftmaxRegression(W, b).state_dict()
    assert state["W"].shape == (6, 3) and state["W"].is_contiguous() and not state["W"].requires_grad
