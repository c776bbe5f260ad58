"""The book's chapter 3 (classic edition) runs as printed, through `from linnet import d2l` only.

Each test holds one section's PyTorch cells, copied as the book prints them; the only change is the
import line (and, in 3.5, `from linnet.d2l import torchvision, transforms` for the two torchvision
imports). The data is generated: a few hundred 28x28 images in which class k is a bright band at
rows 2k+4..2k+5 over noise, so a linear model can learn it and the tests can tell that it did.
The tests run headless (matplotlib's Agg backend): no window opens.
"""
import re
import sys

import numpy as np
import pytest
from conftest import write_fake_dataset

N_TRAIN, N_TEST = 300, 100


def learnable_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def make(n):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28), dtype=np.uint8)          # dim noise
        rows = 2 * labels.astype(np.int64) + 4
        for dr in (0, 1):                                                  # the class's band, 2 rows x 20 columns
            images[np.arange(n)[:, None], (rows + dr)[:, None], np.arange(4, 24)] = 255
        return images, labels

    (tr_x, tr_y), (te_x, te_y) = make(N_TRAIN), make(N_TEST)
    return {"train_images": tr_x, "train_labels": tr_y, "test_images": te_x, "test_labels": te_y}


@pytest.fixture
def book(tmp_path, monkeypatch):
    """The book's working directory: ../data holds torchvision's layout, $LINNET_DATA the linnet one."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    arrays = learnable_arrays()
    write_fake_dataset(tmp_path / "data" / "FashionMNIST" / "raw", arrays=arrays, gz=False)
    write_fake_dataset(tmp_path / "linnet-data" / "fashion-mnist", arrays=arrays)
    monkeypatch.setenv("LINNET_DATA", str(tmp_path / "linnet-data"))
    monkeypatch.delitem(sys.modules, "IPython", raising=False)        # a script or terminal, not Jupyter
    import torch
    torch.manual_seed(0)             # the book's cells draw from torch's global generator: repeatable tests
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    yield arrays
    from matplotlib import pyplot as plt
    plt.close("all")                                                  # the book's pyplot figures


# torch warns that 4 workers exceed this machine's cores: the book's number, kept on purpose here
@pytest.mark.filterwarnings("ignore:This DataLoader will create 4 worker processes")
def test_3_5_the_image_classification_dataset(book, capsys):
    import torch  # noqa: F401
    from torch.utils import data

    from linnet import d2l
    from linnet.d2l import torchvision, transforms

    d2l.use_svg_display()
    trans = transforms.ToTensor()
    mnist_train = torchvision.datasets.FashionMNIST(
        root="../data", train=True, transform=trans, download=True)
    mnist_test = torchvision.datasets.FashionMNIST(
        root="../data", train=False, transform=trans, download=True)
    assert (len(mnist_train), len(mnist_test)) == (N_TRAIN, N_TEST)
    assert mnist_train[0][0].shape == (1, 28, 28)
    assert torch.equal(mnist_train[7][0][0], torch.from_numpy(book["train_images"][7]).float() / 255)
    assert mnist_test[3][1] == book["test_labels"][3]

    X, y = next(iter(data.DataLoader(mnist_train, batch_size=18)))
    axes = d2l.show_images(X.reshape(18, 28, 28), 2, 9, titles=d2l.get_fashion_mnist_labels(y))
    assert axes[0].figure is d2l.plt.gcf()                       # a pyplot figure: Jupyter's inline backend shows it
    assert d2l.get_fashion_mnist_labels(y)[:2] == [d2l.get_fashion_mnist_labels([int(v)])[0] for v in y[:2]]

    batch_size = 256

    def get_dataloader_workers():  #@save
        """Use 4 processes to read the data."""
        return 4

    train_iter = data.DataLoader(mnist_train, batch_size, shuffle=True,
                                 num_workers=get_dataloader_workers())
    timer = d2l.Timer()
    seen = []
    for X, y in train_iter:
        seen.append(y)
        continue
    assert f'{timer.stop():.2f} sec'.endswith(" sec")
    # 4 worker processes read every image exactly once
    assert sorted(torch.cat(seen).tolist()) == sorted(book["train_labels"].tolist())

    train_iter = data.DataLoader(mnist_train, batch_size, shuffle=True,
                                 num_workers=d2l.get_dataloader_workers())
    assert sum(len(y) for _, y in train_iter) == N_TRAIN

    train_iter, test_iter = d2l.load_data_fashion_mnist(32, resize=64)
    for X, y in train_iter:
        print(X.shape, X.dtype, y.shape, y.dtype)
        break
    assert capsys.readouterr().out.strip() == "torch.Size([32, 1, 64, 64]) torch.float32 torch.Size([32]) torch.int64"

    # the book's own load_data_fashion_mnist, built from the same transforms, gives the same shapes
    trans = transforms.Compose([transforms.Resize(64), transforms.ToTensor()])
    mnist_test = torchvision.datasets.FashionMNIST(root="../data", train=False, transform=trans, download=True)
    X, y = next(iter(data.DataLoader(mnist_test, 32)))
    X_linnet, y_linnet = next(iter(test_iter))
    assert X.shape == X_linnet.shape and torch.equal(y, y_linnet)
    assert (X - X_linnet).abs().mean() < 0.02                    # PIL's and torch's bilinear resize agree


def test_3_6_softmax_regression_from_scratch(book, capsys, tmp_path):
    import torch

    from linnet import d2l

    batch_size = 256
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

    num_inputs = 784
    num_outputs = 10

    W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = torch.zeros(num_outputs, requires_grad=True)

    X = d2l.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    d2l.reduce_sum(X, 0, keepdim=True), d2l.reduce_sum(X, 1, keepdim=True)

    def softmax(X):
        X_exp = d2l.exp(X)
        partition = d2l.reduce_sum(X_exp, 1, keepdim=True)
        return X_exp / partition  # The broadcasting mechanism is applied here

    X = d2l.normal(0, 1, (2, 5))
    X_prob = softmax(X)
    X_prob, d2l.reduce_sum(X_prob, 1)
    assert torch.allclose(d2l.reduce_sum(X_prob, 1), torch.ones(2))

    def net(X):
        return softmax(d2l.matmul(d2l.reshape(X, (-1, W.shape[0])), W) + b)

    y = d2l.tensor([0, 2])
    y_hat = d2l.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    y_hat[[0, 1], y]

    def cross_entropy(y_hat, y):
        return - d2l.log(y_hat[range(len(y_hat)), y])

    cross_entropy(y_hat, y)

    def accuracy(y_hat, y):  #@save
        """Compute the number of correct predictions."""
        if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
            y_hat = d2l.argmax(y_hat, axis=1)
        cmp = d2l.astype(y_hat, y.dtype) == y
        return float(d2l.reduce_sum(d2l.astype(cmp, y.dtype)))

    accuracy(y_hat, y) / len(y)
    assert accuracy(y_hat, y) / len(y) == d2l.accuracy(y_hat, y) / len(y) == 0.5

    def evaluate_accuracy(net, data_iter):  #@save
        """Compute the accuracy for a model on a dataset."""
        if isinstance(net, torch.nn.Module):
            net.eval()  # Set the model to evaluation mode
        metric = Accumulator(2)  # No. of correct predictions, no. of predictions

        with torch.no_grad():
            for X, y in data_iter:
                metric.add(accuracy(net(X), y), d2l.size(y))
        return metric[0] / metric[1]

    class Accumulator:  #@save
        """For accumulating sums over `n` variables."""
        def __init__(self, n):
            self.data = [0.0] * n

        def add(self, *args):
            self.data = [a + float(b) for a, b in zip(self.data, args)]

        def reset(self):
            self.data = [0.0] * len(self.data)

        def __getitem__(self, idx):
            return self.data[idx]

    evaluate_accuracy(net, test_iter)
    before = d2l.evaluate_accuracy(net, test_iter)
    assert before == evaluate_accuracy(net, test_iter)

    lr = 0.1

    def updater(batch_size):
        return d2l.sgd([W, b], lr, batch_size)

    num_epochs = 10
    d2l.train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)

    d2l.predict_ch3(net, test_iter)

    after = d2l.evaluate_accuracy(net, test_iter)
    assert after > 0.9 > before + 0.3                            # it learned the bands
    out = capsys.readouterr().out
    # the Animator outside Jupyter: a PNG said once, then one line a point
    assert out.count("Animator: drawing to ") == 1
    assert (tmp_path / "work" / "animator.png").stat().st_size > 0
    lines = re.findall(r"^epoch (\d+): train loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)$", out, re.M)
    assert [int(e) for e, *_ in lines] == list(range(1, 11))
    assert float(lines[-1][3]) == pytest.approx(after, abs=1e-4)
    assert float(lines[-1][1]) < float(lines[0][1])              # the training loss fell
    # predict_ch3: the first 6 test images, true -> predicted
    assert "predict_ch3: drawing to " in out and (tmp_path / "work" / "predictions.png").stat().st_size > 0
    pairs = re.search(r"^predict_ch3 \(true -> predicted\): (.*)$", out, re.M).group(1).split(", ")
    assert [p.split(" -> ")[0] for p in pairs] == d2l.get_fashion_mnist_labels(book["test_labels"][:6])


def test_3_7_softmax_regression_concise(book, capsys):
    import torch
    from torch import nn

    from linnet import d2l

    batch_size = 256
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

    # PyTorch does not implicitly reshape the inputs. Thus we define the flatten
    # layer to reshape the inputs before the linear layer in our network
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights);  # noqa: E703 (the book's cell)

    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)

    num_epochs = 10
    d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)

    assert d2l.evaluate_accuracy(net, test_iter) > 0.9
    assert not net.training                                       # evaluate_accuracy put it in eval mode
    lines = re.findall(r"^epoch (\d+): train loss ([\d.]+)", capsys.readouterr().out, re.M)
    assert len(lines) == 10 and float(lines[-1][1]) < float(lines[0][1])


def test_3_1_linear_regression(book):
    import math
    import time  # noqa: F401 (the book's cell)

    import numpy as np
    import torch

    from linnet import d2l

    n = 10000
    a = torch.ones([n])
    b = torch.ones([n])

    c = torch.zeros(n)
    timer = d2l.Timer()
    for i in range(n):
        c[i] = a[i] + b[i]
    f'{timer.stop():.5f} sec'

    timer.start()
    d = a + b
    f'{timer.stop():.5f} sec'
    assert torch.equal(c, d) and len(timer.times) == 2 and timer.sum() == pytest.approx(sum(timer.times))

    def normal(x, mu, sigma):
        p = 1 / math.sqrt(2 * math.pi * sigma**2)
        return p * np.exp(-0.5 / sigma**2 * (x - mu)**2)

    # Use numpy again for visualization
    x = np.arange(-7, 7, 0.01)

    # Mean and standard deviation pairs
    params = [(0, 1), (0, 2), (3, 1)]
    d2l.plot(x, [normal(x, mu, sigma) for mu, sigma in params], xlabel='x',
             ylabel='p(x)', figsize=(4.5, 2.5),
             legend=[f'mean {mu}, std {sigma}' for mu, sigma in params])
    ax = d2l.plt.gca()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['mean 0, std 1', 'mean 0, std 2', 'mean 3, std 1']
    assert len(ax.lines) == 3


def test_3_2_linear_regression_from_scratch(book, capsys):
    import random

    import torch

    from linnet import d2l

    def synthetic_data(w, b, num_examples):  #@save
        """Generate y = Xw + b + noise."""
        X = d2l.normal(0, 1, (num_examples, len(w)))
        y = d2l.matmul(X, w) + b
        y += d2l.normal(0, 0.01, y.shape)
        return X, d2l.reshape(y, (-1, 1))

    true_w = d2l.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)

    print('features:', features[0], '\nlabel:', labels[0])

    d2l.set_figsize()
    # The semicolon is for displaying the plot only
    d2l.plt.scatter(d2l.numpy(features[:, 1]), d2l.numpy(labels), 1);  # noqa: E703

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        # The examples are read at random, in no particular order
        random.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = d2l.tensor(
                indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    batch_size = 10

    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    lr = 0.03
    num_epochs = 3
    net = d2l.linreg
    loss = d2l.squared_loss

    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = loss(net(X, w, b), y)  # Minibatch loss in `X` and `y`  # noqa: E741
            # Compute gradient on `l` with respect to [`w`, `b`]
            l.sum().backward()
            d2l.sgd([w, b], lr, batch_size)  # Update parameters using their gradient
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            print(f'epoch {epoch + 1}, loss {float(train_l.mean()):f}')

    print(f'error in estimating w: {true_w - d2l.reshape(w, true_w.shape)}')
    print(f'error in estimating b: {true_b - b}')
    assert (true_w - d2l.reshape(w, true_w.shape)).abs().max() < 0.01
    assert abs(true_b - float(b.detach())) < 0.01
    losses = [float(v) for v in re.findall(r"^epoch \d, loss ([\d.]+)$", capsys.readouterr().out, re.M)]
    assert len(losses) == 3 and losses[-1] < 1e-3

    # the d2l function of the same name: same shapes, drawn from torch's global generator
    torch.manual_seed(1)
    X1, y1 = d2l.synthetic_data(true_w, true_b, 1000)
    torch.manual_seed(1)
    X2, y2 = d2l.synthetic_data(true_w, true_b, 1000)
    assert X1.shape == (1000, 2) and y1.shape == (1000, 1) and torch.equal(X1, X2)
    assert not torch.equal(X1, d2l.synthetic_data(true_w, true_b, 1000)[0])


def test_3_3_linear_regression_concise(book, capsys):
    import numpy as np  # noqa: F401 (the book's cell)
    import torch
    from torch import nn

    from linnet import d2l

    true_w = d2l.tensor([2, -3.4])
    true_b = 4.2
    features, labels = d2l.synthetic_data(true_w, true_b, 1000)

    def load_array(data_arrays, batch_size, is_train=True):  #@save
        """Construct a PyTorch data iterator."""
        return d2l.load_array(data_arrays, batch_size, is_train)

    batch_size = 10
    data_iter = load_array((features, labels), batch_size)

    X, y = next(iter(data_iter))
    assert X.shape == (10, 2) and y.shape == (10, 1)

    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)

    num_epochs = 3
    for epoch in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y)  # noqa: E741
            trainer.zero_grad()
            l.backward()
            trainer.step()
        l = loss(net(features), labels)  # noqa: E741
        print(f'epoch {epoch + 1}, loss {l:f}')

    w = net[0].weight.data
    print('error in estimating w:', true_w - d2l.reshape(w, true_w.shape))
    b = net[0].bias.data
    print('error in estimating b:', true_b - b)
    assert (true_w - d2l.reshape(w, true_w.shape)).abs().max() < 0.01
    assert abs(true_b - float(b)) < 0.01
    assert len(re.findall(r"^epoch \d, loss [\d.]+$", capsys.readouterr().out, re.M)) == 3


# ---------------------------------------------------------------------------- the module itself

def test_every_public_name_is_there():
    from linnet import d2l
    missing = [name for name in d2l.__all__ if not hasattr(d2l, name)]
    assert missing == []
    for name in ("train_ch3", "predict_ch3", "load_data_fashion_mnist", "Animator", "Timer", "Accumulator", "sgd",
                 "linreg", "squared_loss", "reshape", "reduce_sum", "plt", "torchvision", "transforms"):
        assert name in d2l.__all__


def test_linnet_d2l_after_a_plain_import_linnet():
    import linnet
    from linnet import d2l
    assert linnet.d2l is d2l


def test_the_books_tensor_aliases_are_torchs():
    import torch

    from linnet import d2l
    x = d2l.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert torch.equal(d2l.reduce_sum(x, 1, keepdim=True), torch.tensor([[3.0], [7.0]]))
    assert torch.equal(d2l.argmax(x, axis=1), torch.tensor([1, 1]))
    assert d2l.astype(x, torch.int64).dtype == torch.int64 and d2l.size(x) == 4
    assert d2l.numpy(x.requires_grad_()).shape == (2, 2)
    assert torch.equal(d2l.transpose(x), x.t()) and d2l.concat is torch.cat and d2l.float32 is torch.float32


@pytest.mark.parametrize("name, match", [
    ("try_gpu", r"d2l.try_gpu is not part of linnet's d2l layer: chapter 3 runs on the CPU.*torch.device\("),
    ("download", r"d2l.download is not part of linnet's d2l layer: linnet finds, downloads and MD5-verifies"),
    ("Trainer", r"d2l.Trainer is not part of linnet's d2l layer: it belongs to d2l 1.0's class API.*linnet.fit"),
    ("train_ch6", r"d2l.train_ch6 is not part of linnet's d2l layer: it comes from a later chapter.*"
                  r"from d2l import torch as d2l"),
])
def test_d2l_names_without_meaning_here_say_what_to_use(name, match):
    from linnet import d2l
    from linnet.errors import LinnetError, NotSupported
    with pytest.raises(NotSupported, match=match) as info:
        getattr(d2l, name)
    assert isinstance(info.value, LinnetError) and isinstance(info.value, AttributeError)
    assert not hasattr(d2l, name)                     # hasattr() answers, as for any missing name
    with pytest.raises(ImportError):
        exec(f"from linnet.d2l import {name}", {})


def test_unknown_names_are_plain_attribute_errors():
    from linnet import d2l
    from linnet.errors import LinnetError
    with pytest.raises(AttributeError, match="module 'linnet.d2l' has no attribute 'no_such_thing'") as info:
        d2l.no_such_thing
    assert not isinstance(info.value, LinnetError)
