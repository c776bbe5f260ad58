"""Learning-rate schedules, one number per epoch.

The schedule is a pure function of the epoch, not an object with state: the training loop asks
for the epoch's lr and passes it into `train_step`, so all three implementations (fast, scratch,
concise) see exactly the same sequence, and a resumed run picks up the same lr.
"""
from __future__ import annotations

from linnet.checks import check_choice, check_float, check_int

SCHEDULES = ("constant", "exponential", "step")


def learning_rate(schedule: str, lr: float, epoch: int, gamma: float = 0.9, step_size: int = 1) -> float:
    """The learning rate of `epoch` (counted from 0) under `schedule`.

    constant     lr
    exponential  lr * gamma^epoch                  (gamma = 0.9: 10% smaller every epoch)
    step         lr * gamma^(epoch // step_size)   (constant for step_size epochs, then a drop)
    Epoch 0 always gets lr itself, so a short run is not penalised by the schedule.
    """
    check_choice("schedule", schedule, SCHEDULES)
    check_float("lr", lr, 0.0)
    check_int("epoch", epoch, 0)
    # gamma = 1 is allowed (no decay), > 1 is not (it would grow, not decay): a closed upper end.
    check_float("gamma", gamma, 0.0, 1.0, high_open=False)
    check_int("step_size", step_size, 1)
    if schedule == "exponential":
        return float(lr * gamma ** epoch)
    if schedule == "step":
        return float(lr * gamma ** (epoch // step_size))
    return float(lr)
