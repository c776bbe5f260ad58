import re

import pytest
import torch
from torch import nn

from linnet.d2l.loaders import load_array
from linnet.d2l.training import (Timer, accuracy, evaluate_accuracy, predict_ch3, train_ch3,
                                 train_epoch_ch3)
from linnet.errors import ConfigError, LinnetError, TrainingDiverged
from linnet.functional import sgd


pytestmark = pytest.mark.usefixtures("terminal")   # outside Jupyter, in a scratch directory (conftest)


def blobs(n=120, d=6, k=3, seed=0):
    """k separable clusters in d dimensions: features float (n, d), labels int64 (n,)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % k
    X = torch.randn(n, d, generator=g) * 0.3 + 2.0 * nn.functional.one_hot(y, d).float()
    return X, y


def test_timer_records_each_run():
    timer = Timer()
    first = timer.stop()
    timer.start()
    second = timer.stop()
    assert timer.times == [first, second] and first >= 0 and second >= 0
    assert timer.sum() == pytest.approx(first + second)
    assert timer.avg() == pytest.approx((first + second) / 2)
    assert timer.cumsum() == pytest.approx([first, first + second])
    with pytest.raises(LinnetError, match=r"Timer.avg: no time recorded yet; call stop\(\) first"):
        Timer().avg()


def test_accuracy_is_a_float_count_as_in_the_book():
    y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y = torch.tensor([0, 2])
    assert accuracy(y_hat, y) == 1.0 and isinstance(accuracy(y_hat, y), float)
    assert accuracy(torch.tensor([2, 2]), y) == 1.0                # labels are compared as they are


def test_evaluate_accuracy_for_a_function_and_for_a_module():
    X, y = blobs()
    data_iter = load_array((X, y), 32, is_train=False)
    W = torch.eye(6)[:, :3]

    def net(X):
        return X @ W                                                # the clusters' own axes: all correct
    assert evaluate_accuracy(net, data_iter) == 1.0
    module = nn.Sequential(nn.Linear(6, 3))
    module.train()
    acc = evaluate_accuracy(module, data_iter)
    assert 0 <= acc <= 1 and not module.training                    # put in eval mode
    assert acc == pytest.approx(float((module(X).argmax(1) == y).float().mean()))


def test_evaluate_accuracy_bad_input():
    with pytest.raises(ConfigError, match="The 'net' parameter must be callable. Got int."):
        evaluate_accuracy(3, [])
    with pytest.raises(ConfigError, match="The 'data_iter' parameter yielded no batches."):
        evaluate_accuracy(lambda X: X, [])


def test_a_linnet_model_is_evaluated_through_its_forward_method():
    from linnet.models import build_model
    model = build_model("softmax", "scratch", 6, 3)
    X, y = blobs()
    with pytest.raises(ConfigError, match=r"The 'net' parameter must be callable \(for a linnet model, pass its "
                                          r"forward method\). Got "):
        evaluate_accuracy(model, [(X, y)])
    assert evaluate_accuracy(model.forward, [(X, y)]) == accuracy(model.forward(X), y) / len(y)


def concise_run(reduction: str):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 3))
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    X, y = blobs()
    result = train_epoch_ch3(net, load_array((X, y), 16, is_train=False), nn.CrossEntropyLoss(reduction=reduction),
                             trainer)
    return result, [p.detach().clone() for p in net.parameters()]


def test_an_nn_loss_trains_the_same_whatever_its_reduction():
    (loss_none, acc_none), params_none = concise_run("none")
    for reduction in ("mean", "sum"):
        (loss, acc), params = concise_run(reduction)
        assert loss == pytest.approx(loss_none, rel=1e-5) and acc == acc_none
        # the optimizer follows the batch mean in every case (a 'sum' loss is divided by the batch size)
        assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(params, params_none))


def test_a_function_updater_with_a_mean_loss_steps_as_with_per_sample_losses():
    X, y = blobs()
    runs = []
    for loss in (lambda o, t: nn.functional.cross_entropy(o, t, reduction="none"),
                 lambda o, t: nn.functional.cross_entropy(o, t)):
        W = torch.zeros(6, 3, requires_grad=True)
        b = torch.zeros(3, requires_grad=True)

        def updater(batch_size):
            return sgd([W, b], 0.1, batch_size)
        metrics = train_epoch_ch3(lambda X: X @ W + b, load_array((X, y), 16, is_train=False), loss, updater)
        runs.append((metrics, W.detach().clone()))
    (m1, W1), (m2, W2) = runs
    assert m1 == pytest.approx(m2) and torch.allclose(W1, W2, atol=1e-6)
    assert m1[0] < 1.0986 and m1[1] > 0.5                           # below log(3): it learned


def test_train_epoch_stops_on_a_nan_loss():
    X, y = blobs()
    W = torch.zeros(6, 3, requires_grad=True)

    def loss(o, t):
        return o.sum(1) * float("nan")
    with pytest.raises(TrainingDiverged, match="the loss became nan at step 1 of the epoch; training stopped there"):
        train_epoch_ch3(lambda X: X @ W, load_array((X, y), 16), loss, lambda n: None)


@pytest.mark.parametrize("args, match", [
    ((3, "loss", "updater"), "The 'net' parameter must be callable. Got int."),
    ((len, None, "updater"), "The 'loss' parameter must be callable. Got NoneType."),
    ((len, len, 0.1), r"The 'updater' parameter must be a torch.optim.Optimizer or a function of the batch size "
                      r"\(e.g. lambda batch_size: d2l.sgd\(\[W, b\], lr, batch_size\)\). Got float."),
])
def test_train_epoch_bad_arguments(args, match):
    net, loss, updater = args
    with pytest.raises(ConfigError, match=match):
        train_epoch_ch3(net, [], loss, updater)


def test_train_epoch_without_batches():
    with pytest.raises(ConfigError, match="The 'train_iter' parameter yielded no batches."):
        train_epoch_ch3(len, [], len, lambda n: None)


def test_train_ch3_returns_like_the_book_and_leaves_the_whole_curve_in_the_png(terminal, capsys):
    X, y = blobs()
    net = nn.Sequential(nn.Linear(6, 3))
    it = load_array((X, y), 16)
    assert train_ch3(net, it, it, nn.CrossEntropyLoss(reduction="none"), 4,
                     torch.optim.SGD(net.parameters(), lr=0.1)) is None
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"Animator: drawing to {terminal / 'animator.png'}")
    assert [re.match(r"epoch (\d+): train loss [\d.]+, train acc [\d.]+, test acc [\d.]+$", line).group(1)
            for line in out[1:]] == ["1", "2", "3", "4"]
    assert (terminal / "animator.png").stat().st_size > 0


def test_train_ch3_checks_the_epochs():
    with pytest.raises(ConfigError, match="The 'num_epochs' parameter must be an int >= 1. Got 0."):
        train_ch3(len, [], [], len, 0, lambda n: None)


def test_predict_ch3_shows_true_and_predicted_labels(terminal, capsys):
    images = torch.rand(8, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])

    def net(X):                                                      # predicts class 9 for everything
        return torch.nn.functional.one_hot(torch.full((len(X),), 9), 10).float()
    predict_ch3(net, [(images, labels)], n=3)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"predict_ch3: drawing to {terminal / 'predictions.png'}")
    assert out[1] == ("predict_ch3 (true -> predicted): t-shirt -> ankle boot, trouser -> ankle boot, "
                      "pullover -> ankle boot")
    assert (terminal / "predictions.png").stat().st_size > 0


def test_predict_ch3_bad_input():
    with pytest.raises(ConfigError, match="The 'test_iter' parameter yielded no batches."):
        predict_ch3(len, [])
    with pytest.raises(ConfigError, match="The 'n' parameter must be an int >= 1. Got 0."):
        predict_ch3(len, [], n=0)

