"""Shared helpers of the fault-injection tests (tests/faults/): run the CLI, check its one-line
errors, snapshot directories, start and watch `linnet train` subprocesses.

Import: `from fault_tools import ...` (pytest puts tests/faults on sys.path, as it does tests/).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from helpers_train import run_cli

PYTHON = sys.executable
SRC = Path(__file__).resolve().parents[2] / "src"


cli = run_cli  # linnet.cli.main in this process -> (exit code, stdout, stderr)


def assert_one_line_error(err: str, command: str, *needles: str) -> str:
    """stderr is exactly one line 'linnet COMMAND: error: ...' holding every needle; returns the message."""
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"expected one line on stderr, got:\n{err}"
    prefix = f"linnet {command}: error: "
    assert err.startswith(prefix), err
    message = err[len(prefix):-1]
    for needle in needles:
        assert str(needle) in message, f"{needle!r} not in {message!r}"
    return message


def assert_argparse_error(rc, err: str, command: str, *needles: str) -> None:
    """argparse's refusal: exit 2, a usage line, then 'linnet COMMAND: error: ...'; no traceback."""
    assert rc == 2
    assert "Traceback" not in err, err
    last = err.rstrip("\n").splitlines()[-1]
    assert err.startswith("usage: linnet") and last.startswith(f"linnet {command}: error: "), err
    for needle in needles:
        assert needle in last, f"{needle!r} not in {last!r}"


def snapshot(directory) -> dict[str, tuple[bytes, int]]:
    """Every file under `directory` (relative name -> (bytes, mtime_ns)): to prove nothing changed."""
    directory = Path(directory)
    return {str(p.relative_to(directory)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


def temp_files(directory) -> list[str]:
    """Names under `directory` that look like atomic-write leftovers (.NAME.HEX.tmp)."""
    return sorted(p.name for p in Path(directory).rglob("*") if p.name.endswith(".tmp"))


def load_checkpoint(run_dir):
    """(state, history, meta) of a run directory's checkpoint, through linnet's own checks."""
    from linnet.runs import RunDir
    return RunDir(run_dir).load_checkpoint()


def weights(run_dir) -> dict[str, torch.Tensor]:
    return load_checkpoint(run_dir)[0]


def assert_same_weights(a: dict, b: dict) -> None:
    assert set(a) == set(b) and a
    for name in a:
        assert a[name].dtype == b[name].dtype and torch.equal(a[name], b[name]), f"{name} differs"


def metrics_epochs(run_dir) -> list[int]:
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return []
    try:
        with open(path, newline="") as f:
            return [int(row["epoch"]) for row in csv.DictReader(f)]
    except (OSError, ValueError, KeyError):
        return []


def child_env() -> dict[str, str]:
    """The environment of a `linnet` subprocess: this one's ($LINNET_DATA of the test), src first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PYTHONSTARTUP", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn(argv, *, script: str | None = None, cwd=None) -> subprocess.Popen:
    """`python -m linnet ARGV`, or `python -c SCRIPT ARGV` (a driver that injects a fault)."""
    head = [PYTHON, "-c", script, *map(str, argv)] if script else [PYTHON, "-m", "linnet", *map(str, argv)]
    return subprocess.Popen(head, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=child_env(), cwd=cwd)


def wait_until(predicate, proc: subprocess.Popen | None = None, timeout: float = 20.0, what: str = "") -> None:
    """Poll `predicate` every 10 ms; fail (and kill `proc`) after `timeout` s or if `proc` exits first."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process exited ({proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            if proc is not None:
                proc.kill()
                proc.communicate()
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def finish(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str, str]:
    """Wait for `proc` (killing it after `timeout` s) -> (exit code, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"process did not finish in {timeout} s:\n{out}\n{err}") from None
    return proc.returncode, out, err


def make_run(root, name: str, **settings):
    """A finished `linnet train` run directory under `root` (figures stubbed, quiet, CPU); returns its path.

    For module-scoped fixtures, where the function-scoped `no_plots` fixture cannot be used.
    """
    import pytest

    import linnet.plots as plots
    from linnet.config import TrainConfig
    from linnet.experiment import train
    with pytest.MonkeyPatch.context() as mp:
        for fig in ("plot_curves", "plot_predictions", "plot_confusion", "plot_weights", "plot_scatter"):
            mp.setattr(plots, fig, lambda *a, **k: None)
        mp.setattr(plots, "save_figure", lambda fig, path, dpi=100: Path(path).write_bytes(b""))
        cfg = TrainConfig(**{"dataset": "digits", "epochs": 2, "device": "cpu", **settings},
                          runs_dir=str(root), name=name)
        return train(cfg, quiet=True).run_dir
