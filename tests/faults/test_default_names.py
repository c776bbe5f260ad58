"""Fault: four runs without --name start in the same second, in four processes.

Expected: each gets its own run directory: the default name <model>-<dataset>-<time> gets -2, -3,
-4 when taken, claimed with an atomic mkdir, so no two processes share one, whatever the timing.
An explicit --name still refuses a taken directory (test_concurrent_runs.py, test_runs.py).
The processes are forked and released together by a barrier: they race on the very same name
(`linnet train` builds it from the second; test_experiment.py checks that train() uses this).
"""
from __future__ import annotations

import multiprocessing

from linnet.runs import RunDir

NAME = "softmax-digits-20260101-000000"


def _claim(runs_dir, barrier, results) -> None:
    barrier.wait(timeout=30)
    results.put(RunDir.create(runs_dir, NAME, unique=True).path.name)


def test_four_processes_claiming_one_default_name_all_get_their_own_directory(tmp_path):
    ctx = multiprocessing.get_context("fork")   # no second torch import: the race, not the start-up, is tested
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim, args=(tmp_path, barrier, results)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    names = sorted(results.get(timeout=5) for _ in procs)
    assert names == sorted([NAME, f"{NAME}-2", f"{NAME}-3", f"{NAME}-4"])
    assert sorted(p.name for p in tmp_path.iterdir()) == names


def test_an_explicit_name_is_still_refused_when_taken(tmp_path):
    import pytest

    from linnet.errors import ConfigError
    import torch
    with RunDir.create(tmp_path, NAME) as run:   # a run: it reached its first checkpoint
        run.save_checkpoint({"W": torch.zeros(2, 2)}, [], {"model": "softmax", "impl": "fast"})
    with pytest.raises(ConfigError, match=r"already exists; resume it with --resume"):
        RunDir.create(tmp_path, NAME)
