"""Synthetic linear-regression data: y = X w + b + noise."""
from __future__ import annotations

import pytest
import torch

from linnet.data.synthetic import TRUE_B, TRUE_W, synthetic_data


def test_shapes_and_dtype():
    X, y = synthetic_data()
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    assert X.dtype == y.dtype == torch.float32
    X, y = synthetic_data(w=[1.0, 2.0, 3.0], n=17, dtype=torch.float64)
    assert X.shape == (17, 3) and y.shape == (17, 1) and X.dtype == torch.float64


def test_deterministic_by_seed():
    a, b, c = synthetic_data(seed=1), synthetic_data(seed=1), synthetic_data(seed=2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[1], c[1])


def test_does_not_touch_the_global_rng():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    synthetic_data()
    assert torch.equal(torch.rand(3), expected)


def test_chapter_parameters():
    assert TRUE_W == (2.0, -3.4) and TRUE_B == 4.2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lstsq_recovers_the_true_parameters(dtype):
    X, y = synthetic_data(dtype=dtype)
    A = torch.cat([X, torch.ones(len(X), 1, dtype=dtype)], dim=1)  # (n, 2) -> (n, 3): a column for b
    sol = torch.linalg.lstsq(A.double(), y.double()).solution.squeeze(1)  # (3,)
    assert torch.allclose(sol[:2], torch.tensor(TRUE_W, dtype=torch.float64), atol=0.01)
    assert abs(float(sol[2]) - TRUE_B) < 0.01


def test_noise_has_the_requested_std():
    X, y = synthetic_data(n=20_000, noise=0.5, seed=3, dtype=torch.float64)
    residual = y - (X @ torch.tensor(TRUE_W, dtype=torch.float64).reshape(2, 1) + TRUE_B)
    assert abs(float(residual.std()) - 0.5) < 0.02
    X, y = synthetic_data(noise=0.0, dtype=torch.float64)
    torch.testing.assert_close(y, X @ torch.tensor(TRUE_W, dtype=torch.float64).reshape(2, 1) + TRUE_B)
