"""linnet.estimators: scikit-learn's own estimator checks, GridSearchCV on digits, the fitted state,
partial_fit as "continue training", the solvers against independent optima, every bad input."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from linnet import LinearRegression, SoftmaxRegression
from linnet.data.synthetic import TRUE_B, TRUE_W, synthetic_data


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Models of a few hundred rows: on this shared 2-core machine, a second thread only waits at
    every step's barrier (measured 0.07 s for a fit on one thread, 0.3-4 s on two under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@parametrize_with_checks([SoftmaxRegression(), LinearRegression(), SoftmaxRegression(impl="concise"),
                          LinearRegression(impl="scratch")])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def blobs(n=200, classes=3, seed=0):
    X, y = make_blobs(n_samples=n, centers=classes, n_features=4, random_state=seed)
    return X, y


# -- what scikit-learn users do with it -------------------------------------------------------------

def test_grid_search_over_lr_on_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pipe = make_pipeline(MinMaxScaler(), SoftmaxRegression(epochs=5, random_state=0))
    search = GridSearchCV(pipe, {"softmaxregression__lr": [1e-4, 0.1, 0.5]}, cv=3).fit(X_train, y_train)
    scores = dict(zip(search.cv_results_["param_softmaxregression__lr"], search.cv_results_["mean_test_score"]))
    assert search.best_params_["softmaxregression__lr"] != 1e-4        # 5 epochs at lr 1e-4 barely move
    assert scores[1e-4] < scores[0.1] - 0.2
    assert search.best_score_ > 0.9
    assert search.score(X_test, y_test) > 0.9                          # refit on all training rows


def test_numpy_scalar_parameters_as_a_grid_gives_them():
    X, y = blobs()
    model = SoftmaxRegression(lr=np.float32(0.1), batch_size=np.int64(16), epochs=np.int32(2)).fit(X, y)
    assert model.n_iter_ == 2


def test_string_labels_and_probabilities():
    X, y = blobs()
    names = np.array(["cat", "dog", "emu"])[y]
    model = SoftmaxRegression(random_state=0).fit(X, names)
    assert model.classes_.tolist() == ["cat", "dog", "emu"]
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X)), proba, rtol=1e-12)
    assert (model.predict(X) == model.classes_[proba.argmax(1)]).all()
    assert model.score(X, names) > 0.95


def test_coef_and_intercept_give_the_decision_function():
    X, y = blobs()
    model = SoftmaxRegression(random_state=0).fit(X, y)
    assert model.coef_.shape == (3, 4) and model.intercept_.shape == (3,) and model.n_features_in_ == 4
    np.testing.assert_allclose(model.decision_function(X), X @ model.coef_.T + model.intercept_, rtol=1e-10)
    binary = SoftmaxRegression(random_state=0).fit(X[y < 2], y[y < 2])
    logits = X @ binary.coef_.T + binary.intercept_                   # (n, 2): a row per class, also for two
    np.testing.assert_allclose(binary.decision_function(X), logits[:, 1] - logits[:, 0], rtol=1e-10)


def test_linear_regression_recovers_the_chapters_parameters():
    X, y = synthetic_data(n=1000, seed=0, dtype=torch.float64)
    model = LinearRegression(lr=0.03, batch_size=10, epochs=3, random_state=0).fit(X.numpy(), y.numpy().ravel())
    np.testing.assert_allclose(model.coef_, TRUE_W, atol=2e-3)
    assert abs(model.intercept_ - TRUE_B) < 2e-3
    assert model.score(X.numpy(), y.numpy().ravel()) > 0.999
    assert [r.epoch for r in model.history_] == [1, 2, 3] and model.history_[0].train_acc is None


def test_the_three_implementations_fit_the_same_weights():
    X, y = blobs()
    coefs = [SoftmaxRegression(impl=impl, random_state=3, lr_decay=0.8, weight_decay=1e-3).fit(X, y).coef_
             for impl in ("fast", "scratch", "concise")]
    np.testing.assert_allclose(coefs[1], coefs[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(coefs[2], coefs[0], rtol=1e-9, atol=1e-12)


# -- partial_fit: one more epoch ----------------------------------------------------------------

def test_partial_fit_epochs_equal_fit_bit_for_bit():
    X, y = blobs()
    whole = SoftmaxRegression(epochs=3, lr_decay=0.5, random_state=7).fit(X, y)
    stepwise = SoftmaxRegression(lr_decay=0.5, random_state=7)
    for _ in range(3):
        stepwise.partial_fit(X, y, classes=[0, 1, 2])
    assert stepwise.n_iter_ == 3
    np.testing.assert_array_equal(stepwise.coef_, whole.coef_)
    assert [r.lr for r in stepwise.history_] == [r.lr for r in whole.history_] == [0.1, 0.05, 0.025]


def test_partial_fit_continues_on_new_data():
    X, y = synthetic_data(n=400, seed=1, dtype=torch.float64)
    X, y = X.numpy(), y.numpy().ravel()
    model = LinearRegression(lr=0.03, batch_size=10, random_state=0)
    model.partial_fit(X[:200], y[:200])
    first = model.coef_.copy()
    model.partial_fit(X[200:], y[200:])
    assert model.n_iter_ == 2
    assert np.abs(model.coef_ - TRUE_W).max() < np.abs(first - TRUE_W).max()


def test_partial_fit_with_a_batch_that_lacks_some_classes():
    X, y = blobs()
    model = SoftmaxRegression(random_state=0).partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    model.partial_fit(X, y)
    assert model.classes_.tolist() == [0, 1, 2] and model.coef_.shape == (3, 4)


# -- the solvers against independent optima --------------------------------------------------------

def test_lbfgs_matches_scikit_learns_logistic_regression():
    X, y = blobs(seed=2)
    X = (X - X.mean(0)) / X.std(0)
    wd = 1e-2
    ours = SoftmaxRegression(solver="lbfgs", weight_decay=wd).fit(X, y)
    # scikit-learn minimises 1/2 ||W||^2 + C sum(loss); ours mean(loss) + wd/2 ||W||^2: C = 1 / (n wd)
    theirs = LogisticRegression(C=1 / (len(X) * wd), tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    assert ours.n_iter_ == 0 and ours.history_ == []


def test_lstsq_matches_numpy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ [1.0, -2.0, 0.5] + 3.0 + rng.normal(scale=0.1, size=50)
    model = LinearRegression(solver="lstsq").fit(X, y)
    theta = np.linalg.lstsq(np.c_[X, np.ones(50)], y, rcond=None)[0]
    np.testing.assert_allclose(model.coef_, theta[:3], rtol=1e-10)
    assert model.intercept_ == pytest.approx(theta[3], rel=1e-10)


# -- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    (dict(lr=-0.1), r"The 'lr' parameter must be a float in \(0, inf\). Got -0.1."),
    (dict(lr="fast"), r"The 'lr' parameter must be a float in \(0, inf\). Got 'fast'."),
    (dict(batch_size=0), r"The 'batch_size' parameter must be an int >= 1. Got 0."),
    (dict(batch_size=2.5), r"The 'batch_size' parameter must be an int >= 1. Got 2.5."),
    (dict(epochs=0), r"The 'epochs' parameter must be an int >= 1. Got 0."),
    (dict(impl="numpy"), r"The 'impl' parameter must be one of fast, scratch, concise. Got 'numpy'."),
    (dict(solver="lstsq"), r"The 'solver' parameter must be one of sgd, lbfgs. Got 'lstsq'."),
    (dict(weight_decay=-1.0), r"The 'weight_decay' parameter must be a float in \[0, inf\). Got -1.0."),
    (dict(lr_decay=1.5), r"The 'lr_decay' parameter must be a float in \(0, 1\]. Got 1.5."),
    (dict(random_state="seed"), r"'seed' cannot be used to seed"),
])
def test_bad_parameters_are_named_at_fit(params, message):
    X, y = blobs()
    model = SoftmaxRegression(**params)                                 # __init__ only stores them
    with pytest.raises(ValueError, match=message):
        model.fit(X, y)
    with pytest.raises(ValueError, match=message):
        SoftmaxRegression(**params).partial_fit(X, y, classes=[0, 1, 2])


def test_linear_regression_bad_solver_and_lstsq_with_weight_decay():
    X, y = synthetic_data(n=20)
    with pytest.raises(ValueError, match=r"The 'solver' parameter must be one of sgd, lstsq. Got 'lbfgs'."):
        LinearRegression(solver="lbfgs").fit(X.numpy(), y.numpy().ravel())
    with pytest.raises(ValueError, match=r"The 'weight_decay' parameter must be 0 with solver='lstsq' .* Got 0.1."):
        LinearRegression(solver="lstsq", weight_decay=0.1).fit(X.numpy(), y.numpy().ravel())


def test_bad_labels():
    X, y = blobs()
    with pytest.raises(ValueError, match=r"needs at least 2 classes in y. Got 1 class: 0."):
        SoftmaxRegression().fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="Unknown label type"):
        SoftmaxRegression().fit(X, X[:, 0])
    with pytest.raises(ValueError, match=r"The 'classes' parameter must be given on the first call to partial_fit"):
        SoftmaxRegression().partial_fit(X, y)
    model = SoftmaxRegression().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"y holds labels that are not in classes_ \[0, 1, 2\]: \[7\]."):
        model.partial_fit(X[:3], [0, 7, 1])
    with pytest.raises(ValueError, match=r"The 'classes' parameter must equal classes_ \[0, 1, 2\] .* Got \[0, 1\]."):
        model.partial_fit(X, y, classes=[0, 1])


def test_unfitted_and_wrong_width():
    X, y = blobs()
    with pytest.raises(NotFittedError):
        SoftmaxRegression().predict_proba(X)
    model = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxRegression is expecting 4 features"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features, but SoftmaxRegression is expecting 4 features"):
        model.partial_fit(X[:, :3], y)


def test_array_api_check_with_dispatch_enabled():
    """The one check parametrize_with_checks skips in-process: it needs SCIPY_ARRAY_API=1 before scipy
    is first imported, so it runs in a fresh interpreter (array API dispatch on, NumPy inputs)."""
    import os
    import subprocess
    import sys
    code = ("import torch; torch.set_num_threads(1)\n"
            "from sklearn.utils.estimator_checks import check_array_api_input\n"
            "from linnet import LinearRegression, SoftmaxRegression\n"
            "for e in (SoftmaxRegression(), LinearRegression()):\n"
            "    check_array_api_input(type(e).__name__, e, array_namespace='numpy', expect_only_array_outputs=False)\n"
            "print('passed')\n")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "SCIPY_ARRAY_API": "1"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "passed", out.stderr[-2000:]
