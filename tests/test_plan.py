"""A run's plan on resume (linnet.plan): finish it or add epochs; apply or refuse changed settings."""
import re

import pytest

from linnet.config import TrainConfig
from linnet.errors import ConfigError
from linnet.plan import flag, lr_start, new_plan, planned_epochs, resume_plan

DIGITS = TrainConfig(dataset="digits", epochs=30)


def config(cfg=DIGITS, changes=()):
    return {"settings": {}, "plan": {**new_plan(cfg), "changes": list(changes)}, "resolved": {"epochs": 30, "lr": 0.1}}


def test_a_bare_resume_finishes_the_plan_and_epochs_adds_to_the_completed():
    plan = resume_plan("runs/r", config(), DIGITS, 2, None, {})
    assert (plan.done, plan.total, plan.epochs, plan.lr_start) == (2, 30, 28, 0)
    assert plan.announce() == "resuming at epoch 2, training to 30"
    assert plan.config["plan"] == {"epochs": 30, "changes": []}                  # nothing changed, nothing recorded
    more = resume_plan("runs/r", config(), DIGITS, 2, 30, {})
    assert (more.total, more.epochs) == (32, 30) and more.announce() == "resuming at epoch 2, training to 32"
    assert more.config["plan"]["epochs"] == 32 and more.config["resolved"]["epochs"] == 32
    assert more.config["plan"]["changes"][0]["after_epoch"] == 2 and more.config["plan"]["changes"][0]["set"] == {"epochs": 32}
    assert more.cfg.epochs == 32 and more.config["settings"]["epochs"] == 32


def test_a_finished_run_needs_epochs():
    with pytest.raises(ConfigError, match=r"^runs/r is complete \(30 of 30 epochs\); add more with --epochs N"):
        resume_plan("runs/r", config(), DIGITS, 30, None, {})
    assert resume_plan("runs/r", config(), DIGITS, 30, 5, {}).total == 35


@pytest.mark.parametrize("epochs", [0, -2, 1.5, True])
def test_epochs_to_add_must_be_a_positive_int(epochs):
    with pytest.raises(ConfigError, match=r"The 'epochs' parameter \(--epochs\) must be an int >= 1 on resume"):
        resume_plan("runs/r", config(), DIGITS, 2, epochs, {})


def test_a_run_without_a_recorded_plan_uses_its_settings():
    cfg = TrainConfig(dataset="digits")                                          # epochs: digits' default, 20
    assert planned_epochs({"settings": {}}, cfg) == 20
    assert resume_plan("runs/old", {"settings": {}}, cfg, 4, None, {}).total == 20


@pytest.mark.parametrize("name, value, was", [
    ("batch_size", 8, "16"), ("impl", "scratch", "'fast'"), ("seed", 3, "0"), ("dataset", "mnist", "'digits'"),
    ("resize", 4, "None"), ("data_dir", "/elsewhere", "None"), ("model", "linear", "'softmax'"),
    ("solver", "lbfgs", "'sgd'"), ("name", "other", "None"), ("channels", 3, "1")])
def test_settings_that_make_another_run_are_refused_naming_the_flag(name, value, was):
    with pytest.raises(ConfigError, match="^" + re.escape(f"The '{name}' setting ({flag(name)}) cannot change on "
                                                          f"--resume: the run trained with {was}, got {value!r}. "
                                                          "Start a new run for other values.") + "$"):
        resume_plan("runs/r", config(), DIGITS, 2, None, {name: value})


def test_several_refused_settings_are_named_in_one_line():
    with pytest.raises(ConfigError, match=re.escape("The settings 'impl' (--impl), 'batch_size' (--batch-size) "
                                                    "cannot change on --resume: the run trained with 'fast', 16, "
                                                    "got 'scratch', 8.")):
        resume_plan("runs/r", config(), DIGITS, 2, None, {"impl": "scratch", "lr": 0.5, "batch_size": 8})


def test_the_same_value_as_the_run_is_no_change():
    plan = resume_plan("runs/r", config(), DIGITS, 2, None, {"impl": "fast", "batch_size": 16, "lr": 0.1, "seed": 0})
    assert plan.config["plan"]["changes"] == [] and plan.cfg == DIGITS and plan.lr_start == 0


def test_an_lr_change_applies_from_the_resume_epoch_and_is_recorded():
    plan = resume_plan("runs/r", config(), DIGITS, 2, None, {"lr": 0.5, "weight_decay": 1e-3})
    assert plan.cfg.lr == 0.5 and plan.cfg.weight_decay == 1e-3 and plan.lr_start == 2
    (change,) = plan.config["plan"]["changes"]
    assert change["after_epoch"] == 2 and change["set"] == {"lr": 0.5, "weight_decay": 1e-3}
    assert plan.config["settings"]["lr"] == 0.5 and plan.config["resolved"]["lr"] == 0.5
    assert lr_start(plan.config) == 2                                            # a later resume keeps the segment


def test_a_new_decay_alone_starts_from_the_lr_in_force():
    decayed = TrainConfig(dataset="digits", epochs=30, lr=0.2, lr_decay=0.5)
    plan = resume_plan("runs/r", config(decayed), decayed, 3, None, {"lr_decay": 1.0})
    assert plan.cfg.lr == pytest.approx(0.2 * 0.5 ** 3) and plan.cfg.lr_decay == 1.0 and plan.lr_start == 3
    later = resume_plan("runs/r", plan.config, plan.cfg, 5, None, {"weight_decay": 0.1})   # lr untouched: same segment
    assert later.lr_start == 3 and later.cfg.lr == plan.cfg.lr


def test_how_the_run_is_done_may_change_without_being_recorded():
    plan = resume_plan("runs/r", config(), DIGITS, 2, None, {"device": "cpu", "plots": False, "tensorboard": ""})
    assert plan.cfg.device == "cpu" and plan.cfg.plots is False and plan.cfg.tensorboard == ""
    assert plan.config["plan"]["changes"] == [] and "device" not in plan.config["settings"] or \
        plan.config["settings"]["device"] == "auto"


@pytest.mark.parametrize("overrides, match", [
    ({"lr": -1.0}, r"The 'lr' parameter must be a float in \(0, inf\)\. Got -1\.0\."),
    ({"lr_decay": 2.0}, r"The 'lr_decay' parameter must be a float in \(0, 1\]"),
    ({"colour": 3}, r"resume\(\) got an unknown setting 'colour'")])
def test_bad_overrides(overrides, match):
    with pytest.raises(ConfigError, match=match):
        resume_plan("runs/r", config(), DIGITS, 2, None, overrides)
