"""linnet.functional against torch as the oracle: forward values, gradients and gradcheck, float64."""
import pytest
import torch
import torch.nn.functional as F

from linnet import functional as lf
from linnet.errors import ConfigError

DT = torch.float64


@pytest.fixture
def logits():
    return torch.randn(6, 5, generator=torch.Generator().manual_seed(0), dtype=DT) * 3


@pytest.fixture
def labels():
    return torch.tensor([0, 4, 2, 2, 1, 3])


@pytest.fixture
def pair():
    g = torch.Generator().manual_seed(1)
    y_hat = torch.randn(8, 1, generator=g, dtype=DT) * 2
    return y_hat, torch.randn(8, 1, generator=g, dtype=DT) * 2


def grads(fn, *inputs):
    """Gradients of a fixed random weighting of fn's output (so every output element matters)."""
    inputs = [x.detach().clone().requires_grad_(True) for x in inputs]
    out = fn(*inputs)
    weights = torch.rand(out.shape, generator=torch.Generator().manual_seed(2), dtype=out.dtype)
    (out * weights).sum().backward()
    return out.detach(), [x.grad for x in inputs]


# -- softmax, log-softmax, cross-entropy --------------------------------------------------------

@pytest.mark.parametrize("ours, theirs", [
    (lf.softmax, lambda o: F.softmax(o, -1)),
    (lf.softmax_naive, lambda o: F.softmax(o, -1)),
    (lf.log_softmax, lambda o: F.log_softmax(o, -1)),
])
def test_softmax_family_matches_torch(ours, theirs, logits):
    out, (g,) = grads(ours, logits)
    ref, (g_ref,) = grads(theirs, logits)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(g, g_ref)
    assert torch.autograd.gradcheck(ours, (logits.clone().requires_grad_(True),))


def test_softmax_rows_sum_to_one(logits):
    torch.testing.assert_close(lf.softmax(logits).sum(-1), torch.ones(6, dtype=DT))


def test_cross_entropy_matches_torch(logits, labels):
    out, (g,) = grads(lambda o: lf.cross_entropy(o, labels), logits)
    ref, (g_ref,) = grads(lambda o: F.cross_entropy(o, labels, reduction="none"), logits)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(g, g_ref)
    assert torch.autograd.gradcheck(lambda o: lf.cross_entropy(o, labels), (logits.clone().requires_grad_(),))


def test_cross_entropy_from_probs_matches_torch(logits, labels):
    p = F.softmax(logits, -1)
    out, (g,) = grads(lambda q: lf.cross_entropy_from_probs(q, labels), p)
    ref, (g_ref,) = grads(lambda q: F.nll_loss(torch.log(q), labels, reduction="none"), p)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(g, g_ref)
    assert torch.autograd.gradcheck(lambda q: lf.cross_entropy_from_probs(q, labels), (p.requires_grad_(),))


def test_cross_entropy_from_probs_saturates_at_minus_log_eps():
    # The true class has probability 0: log(0) would be -inf; the epsilon caps the loss instead.
    p = torch.tensor([[1.0, 0.0]], dtype=DT)
    loss = lf.cross_entropy_from_probs(p, torch.tensor([1]), eps=1e-12)
    torch.testing.assert_close(loss, torch.tensor([-torch.log(torch.tensor(1e-12, dtype=DT))]))
    # In float16 1e-12 rounds to 0; the dtype's smallest normal number takes its place.
    assert torch.isfinite(lf.cross_entropy_from_probs(p.half(), torch.tensor([1]))).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_stable_softmax_and_cross_entropy_on_huge_logits(dtype):
    O = torch.tensor([[1000.0, 0.0, -1000.0]], dtype=dtype)
    P = lf.softmax(O)
    assert torch.isfinite(P).all()
    torch.testing.assert_close(P, torch.tensor([[1.0, 0.0, 0.0]], dtype=dtype))
    log_p = lf.log_softmax(O)
    torch.testing.assert_close(log_p, torch.tensor([[0.0, -1000.0, -2000.0]], dtype=dtype))
    O3 = O.expand(3, 3)
    loss = lf.cross_entropy(O3, torch.tensor([0, 1, 2]))
    torch.testing.assert_close(loss, torch.tensor([0.0, 1000.0, 2000.0], dtype=dtype))
    torch.testing.assert_close(loss, F.cross_entropy(O3.double(), torch.tensor([0, 1, 2]),
                                                     reduction="none").to(dtype))


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_naive_softmax_overflows_to_nan(dtype):
    # Documented behaviour, not a bug: exp(1000) = inf and inf / inf = nan. This is why `softmax`
    # subtracts the row max first.
    P = lf.softmax_naive(torch.tensor([[1000.0, 0.0, -1000.0]], dtype=dtype))
    assert torch.isnan(P[0, 0])


# -- regression losses --------------------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs", [
    (lf.squared_loss, lambda a, b: 0.5 * F.mse_loss(a, b, reduction="none")),
    (lf.l1_loss, lambda a, b: F.l1_loss(a, b, reduction="none")),
    (lf.huber_loss, lambda a, b: F.huber_loss(a, b, reduction="none", delta=1.0)),
    (lambda a, b: lf.huber_loss(a, b, delta=0.3),
     lambda a, b: F.huber_loss(a, b, reduction="none", delta=0.3)),
])
def test_regression_losses_match_torch(ours, theirs, pair):
    out, g = grads(ours, *pair)
    ref, g_ref = grads(theirs, *pair)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(g[0], g_ref[0])
    torch.testing.assert_close(g[1], g_ref[1])
    assert torch.autograd.gradcheck(ours, tuple(x.clone().requires_grad_() for x in pair))


def test_squared_loss_reshapes_y_like_the_chapter():
    y_hat = torch.zeros(4, 1, dtype=DT)
    assert lf.squared_loss(y_hat, torch.ones(4, dtype=DT)).shape == (4, 1)


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_huber_pieces(delta):
    r = torch.linspace(-5, 5, 101, dtype=DT)
    h = lf.huber_loss(r, torch.zeros_like(r), delta=delta)
    inside = r.abs() <= delta
    torch.testing.assert_close(h[inside], lf.squared_loss(r, torch.zeros_like(r))[inside])
    torch.testing.assert_close(h[~inside], delta * (lf.l1_loss(r, torch.zeros_like(r)) - delta / 2)[~inside])


def test_huber_equals_l1_minus_half_outside_unit_delta():
    r = torch.tensor([1.5, -3.0, 10.0], dtype=DT)
    torch.testing.assert_close(lf.huber_loss(r, torch.zeros(3, dtype=DT)), r.abs() - 0.5)


@pytest.mark.parametrize("delta", [0.5, 1.0])
def test_huber_gradient_is_continuous_at_delta(delta):
    eps = 1e-9
    r = torch.tensor([delta - eps, delta, delta + eps, -delta - eps, -delta + eps], dtype=DT, requires_grad=True)
    lf.huber_loss(r, torch.zeros(5, dtype=DT), delta=delta).sum().backward()
    torch.testing.assert_close(r.grad, torch.tensor([delta, delta, delta, -delta, -delta], dtype=DT),
                               atol=1e-8, rtol=0)


def test_bad_delta_and_eps_are_config_errors():
    with pytest.raises(ConfigError, match=r"The 'delta' parameter must be a float in \(0, inf\)\. Got -1\."):
        lf.huber_loss(torch.zeros(2), torch.zeros(2), delta=-1)
    with pytest.raises(ConfigError, match=r"The 'eps' parameter must be a float in \(0, inf\)\. Got 0\."):
        lf.cross_entropy_from_probs(torch.ones(1, 2), torch.tensor([0]), eps=0)


# -- linreg and sgd -----------------------------------------------------------------------------

def test_linreg_shape_and_value():
    X = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=DT)
    out = lf.linreg(X, torch.tensor([[2.0], [-3.4]], dtype=DT), torch.tensor([4.2], dtype=DT))
    torch.testing.assert_close(out, torch.tensor([[2 - 6.8 + 4.2], [6 - 13.6 + 4.2]], dtype=DT))


def test_sgd_divides_the_summed_gradient_by_the_batch_size_once():
    # A batch of 4 identical samples with a summed loss: the step must equal one sample's step.
    w = torch.tensor([[1.0]], dtype=DT, requires_grad=True)
    b = torch.tensor([0.0], dtype=DT, requires_grad=True)
    X = torch.full((4, 1), 2.0, dtype=DT)
    lf.squared_loss(lf.linreg(X, w, b), torch.zeros(4, 1, dtype=DT)).sum().backward()
    lf.sgd([w, b], lr=0.1, batch_size=4)
    # one sample: l = 1/2 (2w + b)^2, dl/dw = 2 (2w + b) = 4, dl/db = 2
    torch.testing.assert_close(w.detach(), torch.tensor([[1.0 - 0.1 * 4]], dtype=DT))
    torch.testing.assert_close(b.detach(), torch.tensor([-0.1 * 2], dtype=DT))
    assert w.grad.abs().sum() == 0 and b.grad.abs().sum() == 0   # zeroed for the next batch


def test_sgd_weight_decay_skips_biases():
    W = torch.ones(2, 2, dtype=DT, requires_grad=True)
    b = torch.ones(2, dtype=DT, requires_grad=True)
    W.grad, b.grad = torch.zeros_like(W), torch.zeros_like(b)
    lf.sgd([W, b], lr=0.5, batch_size=3, weight_decay=0.1)
    torch.testing.assert_close(W.detach(), torch.full((2, 2), 1 - 0.5 * 0.1, dtype=DT))
    torch.testing.assert_close(b.detach(), torch.ones(2, dtype=DT))
