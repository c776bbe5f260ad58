"""linnet.schedules: the lr of each epoch, and the validation of every argument."""
import pytest

from linnet.errors import ConfigError
from linnet.schedules import SCHEDULES, learning_rate


def test_constant():
    assert [learning_rate("constant", 0.1, e) for e in range(3)] == [0.1, 0.1, 0.1]


def test_exponential_decays_every_epoch():
    lrs = [learning_rate("exponential", 0.1, e, gamma=0.9) for e in range(4)]
    assert lrs == pytest.approx([0.1, 0.09, 0.081, 0.0729])


def test_step_decays_every_step_size_epochs():
    lrs = [learning_rate("step", 1.0, e, gamma=0.5, step_size=2) for e in range(6)]
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25])


def test_step_with_step_size_one_is_exponential():
    for e in range(5):
        assert learning_rate("step", 0.3, e, gamma=0.7) == pytest.approx(learning_rate("exponential", 0.3, e, gamma=0.7))


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_epoch_zero_is_the_base_lr(schedule):
    assert learning_rate(schedule, 0.03, 0, gamma=0.1, step_size=4) == pytest.approx(0.03)
    assert isinstance(learning_rate(schedule, 1, 2), float)


@pytest.mark.parametrize("kwargs, message", [
    ({"schedule": "cosine"}, r"The 'schedule' parameter must be one of constant, exponential, step\. Got 'cosine'\."),
    ({"lr": -0.1}, r"The 'lr' parameter must be a float in \(0, inf\)\. Got -0\.1\."),
    ({"lr": 0}, r"The 'lr' parameter must be a float in \(0, inf\)\. Got 0\."),
    ({"lr": float("nan")}, r"The 'lr' parameter must be a float in \(0, inf\)\. Got nan\."),
    ({"lr": "0.1"}, r"The 'lr' parameter must be a float in \(0, inf\)\. Got '0\.1'\."),
    ({"epoch": -1}, r"The 'epoch' parameter must be an int >= 0\. Got -1\."),
    ({"gamma": 1.5}, r"The 'gamma' parameter must be a float in \(0, 1\]\. Got 1\.5\."),
    ({"gamma": 0.0}, r"The 'gamma' parameter must be a float in \(0, 1\]\. Got 0\.0\."),
    ({"step_size": 0}, r"The 'step_size' parameter must be an int >= 1\. Got 0\."),
])
def test_validation(kwargs, message):
    args = {"schedule": "step", "lr": 0.1, "epoch": 1, **kwargs}
    with pytest.raises(ConfigError, match=message):
        learning_rate(**args)
