"""linnet.threads: the thread-count policy's decisions (no timings: the clock is the test's)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from linnet import threads
from linnet.config import TrainConfig
from linnet.errors import ConfigError
from linnet.threads import PARALLEL_MIN_WORK, ThreadChoice


@pytest.fixture(autouse=True)
def no_env_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_thread_choice_trials_then_keeps_the_faster_and_backs_off(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    choice, big = ThreadChoice(), PARALLEL_MIN_WORK
    assert choice.plan(big - 1) == (1, None) and choice.best(big - 1) == 1   # small steps: never split
    for _ in range(2):                                                  # warming up: one thread runs,
        assert choice.plan(big) == (1, 2) and choice.best(big) == 1     # after a trial of two
        choice.record(2, 2048, 0.002, trial=True)
        choice.record(1, 10000, 0.02)                                   # 2 us a row with one thread
    assert choice.best(big) == 2                                        # 1 us with two
    assert [choice.plan(big) for _ in range(8)] == [(2, None)] * 7 + [(2, 1)]   # a trial of one, 8th call
    choice.record(1, 2048, 0.004, trial=True)                           # it lost: next trial 16 calls on
    choice.record(2, 10000, 0.01)
    plans = [choice.plan(big) for _ in range(16)]
    assert plans == [(2, None)] * 15 + [(2, 1)]
    choice.record(1, 2048, 0.001, trial=True)                           # another process took a core:
    assert choice.best(big) == 1                                        # one thread wins, and the
    choice.record(1, 10000, 0.005)                                      # trials are 8 apart again
    assert [choice.plan(big) for _ in range(8)] == [(1, None)] * 7 + [(1, 2)]


def test_warming_up_the_rest_of_a_call_runs_on_the_faster_count_timed_once(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    choice, big = ThreadChoice(), PARALLEL_MIN_WORK
    assert choice.warming(big) and not choice.warming(big - 1) and choice.faster(big) == 1
    choice.record(2, 2048, 0.002, trial=True)                           # 1 us a row on two threads
    assert choice.faster(big) == 1                                      # one thread not timed yet
    choice.record(1, 2048, 0.004)                                       # 2 us on one
    assert choice.faster(big) == 2 and choice.best(big) == 1            # faster: latest timings; best: two each
    choice.record(2, 10000, 0.01)
    assert not choice.warming(big)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert not ThreadChoice().warming(big)                              # a fixed count never warms up


@pytest.mark.parametrize("value, count", [("3", 3), (" 1 ", 1), ("4,2", 4)])
def test_omp_num_threads_fixes_the_count_without_trials(monkeypatch, value, count):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    choice = ThreadChoice()
    assert threads.fixed() == count
    assert choice.plan(PARALLEL_MIN_WORK) == (count, None) and choice.plan(1) == (count, None)
    assert choice.best(PARALLEL_MIN_WORK) == count
    assert threads.describe() == f"{count} (OMP_NUM_THREADS)"


@pytest.mark.parametrize("value", ["0", "two", "-1", "99999"])
def test_a_bad_omp_num_threads_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    with pytest.raises(ConfigError, match=rf"The OMP_NUM_THREADS environment variable must be a thread count in 1\.\.1024\. Got '{value}'\."):
        threads.fixed()


def test_fixed_threads_wins_over_the_environment_and_is_restored(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    with threads.fixed_threads(3):
        assert threads.fixed() == 3 and torch.get_num_threads() == 3
        assert ThreadChoice().plan(PARALLEL_MIN_WORK) == (3, None)
    assert threads.fixed() == 1 and torch.get_num_threads() == 1
    with threads.fixed_threads(None):                # None: nothing fixed here, the environment stands
        assert threads.fixed() == 1


@pytest.mark.parametrize("value, message", [
    (0, r"The 'threads' parameter must be an int >= 1\. Got 0\."),
    (2.0, r"The 'threads' parameter must be an int >= 1\. Got 2\.0\."),
    (True, r"The 'threads' parameter must be an int >= 1\. Got True\."),
    (5000, r"The 'threads' parameter must be an int in 1\.\.1024\. Got 5000\."),
])
def test_the_threads_setting_is_validated(value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(threads=value)
    with pytest.raises(ConfigError, match=message):
        with threads.fixed_threads(value):
            pass


class CountingModel:
    """Records torch's thread count at every step and evaluation batch."""
    kind = "linear"

    def __init__(self):
        self.seen = []

    def train_step(self, X, y, lr, weight_decay=0.0):
        self.seen.append(("step", torch.get_num_threads()))
        return 0.0, 0

    def loss(self, X, y):
        self.seen.append(("eval", torch.get_num_threads()))
        return torch.zeros(len(y))


def batches(n, work=PARALLEL_MIN_WORK):
    return [(torch.zeros(1, work), torch.zeros(1)) for _ in range(n)]


def test_paced_torch_steps_run_the_plan_and_restore_the_count(monkeypatch):
    from linnet.train import evaluate, fit
    torch.set_num_threads(2)
    model = CountingModel()
    choice = threads.choice_for(model)
    fit(model, batches(2 * threads.GROUP_STEPS), batches(2), 1, 0.1)
    counts = [c for kind, c in model.seen if kind == "step"]
    trial = [2] * threads.TRIAL_STEPS + [1] * (threads.GROUP_STEPS - threads.TRIAL_STEPS)
    assert counts == trial * 2                                   # two groups, each a trial of two then one
    assert choice.timings == {2: 2, 1: 2} and torch.get_num_threads() == 2
    choice.seconds_per_row, choice.next_trial = {1: 1.0, 2: 0.5}, 10**6   # say two threads won, no trial due
    model.seen.clear()
    fit(model, batches(8), batches(3), 1, 0.1)
    assert model.seen == [("step", 2)] * 8 + [("eval", 2)] * 3 and torch.get_num_threads() == 2
    choice.seconds_per_row = {1: 0.5, 2: 1.0}                    # a busy machine: one thread
    model.seen.clear()
    evaluate(model, batches(3))
    assert model.seen == [("eval", 1)] * 3 and torch.get_num_threads() == 2


def test_small_steps_run_on_one_thread_and_a_fixed_count_on_exactly_that():
    from linnet.train import fit
    torch.set_num_threads(2)
    model = CountingModel()
    fit(model, batches(5, work=64), batches(1, work=64), 1, 0.1)
    assert {c for _, c in model.seen} == {1} and torch.get_num_threads() == 2
    model.seen.clear()
    with threads.fixed_threads(3):
        fit(model, batches(5, work=64), batches(1, work=64), 1, 0.1)
    assert {c for _, c in model.seen} == {3} and torch.get_num_threads() == 2


def test_cli_threads_is_recorded_in_config_json_and_validated(tmp_path):
    base = [sys.executable, "-m", "linnet", "train", "--dataset", "digits", "--epochs", "1", "--no-plots",
            "--quiet", "--runs-dir", str(tmp_path)]
    done = subprocess.run(base + ["--name", "t2", "--threads", "2"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "t2" / "config.json").read_text())
    assert config["settings"]["threads"] == 2 and config["threads"] == "2 (--threads)"
    bad = subprocess.run(base + ["--name", "t0", "--threads", "0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "threads" in bad.stderr and "must be an int >= 1. Got 0." in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "t0").exists()
