"""How many threads linnet's products run on: measured, unless the user fixes the count.

linnet's products are small (a step of the chapter's run is (256, 784) @ (784, 10): ~2 MFLOP), so
a second thread brings little on a quiet machine and costs a lot on a busy one: when another process
holds a core, torch's OpenMP threads (and the kernel's) spin-wait on each other at every step's
barrier, measured 10-45x slower than one thread (digits, 5 epochs: 16.5 s against 0.36 s). So:

  fixed      `--threads N` (TrainConfig.threads), else OMP_NUM_THREADS: exactly N threads, no measuring
  measured   otherwise: one `ThreadChoice` per model times 1 thread against all of torch's on a few
             steps, runs the faster and re-tries the slower now and then (the load can change)

The compiled kernel (linnet.models.kernel) passes the chosen count to its OpenMP loop; the torch
code paths (impl scratch / concise, fast with LINNET_KERNEL=0) run under `paced`, which sets torch's
intra-op count around their steps and evaluations and restores it afterwards. The count never
changes a result of the kernel (see kernel.py); torch's own reductions may differ in the last bits.
"""
from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from linnet.checks import check_int
from linnet.errors import ConfigError

PARALLEL_MIN_WORK = 1 << 15   # pixels a step below which a second thread costs more than it brings
MAX_THREADS = 1024            # a sanity bound for --threads: more is a typo, not a machine
_FIXED: list[int | None] = [None]   # the count `fixed_threads` set (--threads), None: none set


def env_threads() -> int | None:
    """OMP_NUM_THREADS as a count (its first entry: OpenMP allows a nesting list "4,2"), or None when unset."""
    text = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not text:
        return None
    first = text.split(",")[0].strip()
    if not first.isdigit() or not 1 <= int(first) <= MAX_THREADS:
        raise ConfigError(f"The OMP_NUM_THREADS environment variable must be a thread count in 1..{MAX_THREADS}. "
                          f"Got {text!r}.")
    return int(first)


def fixed() -> int | None:
    """The count the user fixed: --threads (inside `fixed_threads`), else OMP_NUM_THREADS; None: measure."""
    return _FIXED[0] if _FIXED[0] is not None else env_threads()


def check_threads(value) -> None:
    """TrainConfig.threads: None (measured) or a count in 1..MAX_THREADS."""
    if value is not None:
        check_int("threads", value, 1)
        if value > MAX_THREADS:
            raise ConfigError(f"The 'threads' parameter must be an int in 1..{MAX_THREADS}. Got {value!r}.")


def describe(threads: int | None = None) -> str:
    """One line for config.json: how the thread count of this run is chosen."""
    if threads is not None:
        return f"{threads} (--threads)"
    env = env_threads()
    return f"{env} (OMP_NUM_THREADS)" if env is not None else f"measured: 1 or {_torch().get_num_threads()}"


@contextmanager
def fixed_threads(threads: int | None) -> Iterator[None]:
    """Within: `threads` (when not None) is the count of every product, torch's included; restored after."""
    if threads is None:
        yield
        return
    check_threads(threads)
    torch = _torch()
    before = (_FIXED[0], torch.get_num_threads())
    _FIXED[0] = threads
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        _FIXED[0] = before[0]
        torch.set_num_threads(before[1])


class ThreadChoice:
    """The thread count of a model's calls, from measured speed: all of torch's threads on a quiet
    machine, one while another process holds a core (threads then wait on each other at every
    step's barriers). With a fixed count (`fixed`), that count, untimed.

    Until all threads are timed twice (a first timing only warms up), calls run on one thread after a
    short trial of all (the kernel then times a piece on one thread and runs the rest on the faster:
    `faster`). Then the faster count runs, and the slower one gets a short trial every
    `interval` calls: 8, doubled each time it loses again (up to 64), 8 again when it wins.
    """
    TRIAL_ROWS = 2048   # rows of a kernel trial: a few minibatches, so that a bad one costs little

    def __init__(self) -> None:
        self.seconds_per_row: dict[int, float] = {}
        self.timings: dict[int, int] = {}
        self.calls, self.interval, self.next_trial = 0, 8, 0
        self.ceiling: int | None = None   # "all threads"; None: torch.get_num_threads() at the time

    def most(self, work: int) -> int:
        """All threads for steps that touch `work` pixels each; one for small steps."""
        if work < PARALLEL_MIN_WORK:
            return 1
        return self.ceiling or _torch().get_num_threads()

    def best(self, work: int) -> int:
        """The faster count once both are known; one thread until then (and for small steps)."""
        count = fixed()
        if count is not None:
            return count
        most = self.most(work)
        if most == 1 or any(self.timings.get(t, 0) < 2 for t in (most, 1)):
            return 1
        return min((most, 1), key=self.seconds_per_row.__getitem__)

    def warming(self, work: int) -> bool:
        """Whether all threads are not yet timed twice (the next plan asks for a warm-up trial)."""
        most = self.most(work)
        return fixed() is None and most > 1 and self.timings.get(most, 0) < 2

    def faster(self, work: int) -> int:
        """The faster count by the latest timing of each (one is enough; one thread until both are
        timed): the rest of a warm-up call, so that a quiet machine's first epoch is not all on one thread."""
        most = self.most(work)
        if most == 1 or any(t not in self.seconds_per_row for t in (most, 1)):
            return 1
        return min((most, 1), key=self.seconds_per_row.__getitem__)

    def plan(self, work: int) -> tuple[int, int | None]:
        """(threads for a call, threads for a short trial before it, or None)."""
        count = fixed()
        if count is not None:
            return count, None
        most = self.most(work)
        if most == 1:
            return 1, None
        if self.timings.get(most, 0) < 2:
            return 1, most
        self.calls += 1
        best = self.best(work)
        return best, ((1 if best == most else most) if self.calls >= self.next_trial else None)

    def record(self, threads: int, rows: int, seconds: float, trial: bool = False) -> None:
        per_row = seconds / max(rows, 1)
        if trial and len(self.timings) == 2:        # a trial of the slower count: did it win?
            won = all(per_row < v for t, v in self.seconds_per_row.items() if t != threads)
            self.interval = 8 if won else min(64, 2 * self.interval)
            self.next_trial = self.calls + self.interval
        self.seconds_per_row[threads] = per_row
        self.timings[threads] = self.timings.get(threads, 0) + 1


# The torch code paths: a call is a group of GROUP_STEPS training steps, a trial its first TRIAL_STEPS
# (few: on a busy machine a step on two threads was measured at ~37 ms against ~0.8 ms on one).
GROUP_STEPS, TRIAL_STEPS = 64, 4
_CHOICES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # model -> its torch ThreadChoice


def choice_for(model) -> ThreadChoice | None:
    """The ThreadChoice of `model`'s torch steps, kept while the model lives (None: not weak-referable)."""
    try:
        choice = _CHOICES.get(model)
        if choice is None:
            choice = _CHOICES[model] = ThreadChoice()
    except TypeError:
        return None
    return choice


def paced(model, batches: Iterable, training: bool) -> Iterator:
    """`batches` (X, y), with torch's intra-op count chosen for the steps the caller runs on them.

    training: groups of GROUP_STEPS steps, each planned and timed by the model's ThreadChoice (a trial
    first when it asks for one); evaluation: the best count known. torch's count is restored at the end.
    """
    torch = _torch()
    choice, ceiling = choice_for(model), torch.get_num_threads()
    if choice is None:
        yield from batches
        return
    choice.ceiling = ceiling
    pieces: list[list] = []                        # [threads, steps left, trial?] of the current group
    piece, rows, start = None, 0, 0.0
    try:
        for X, y in batches:
            if training and (piece is None or piece[1] == 0):
                if piece is not None:
                    choice.record(piece[0], rows, time.perf_counter() - start, piece[2])
                if not pieces:
                    count, trial = choice.plan(X.numel())
                    pieces = [[count, GROUP_STEPS, False]] if trial is None else [
                        [trial, TRIAL_STEPS, True], [count, GROUP_STEPS - TRIAL_STEPS, False]]
                piece, rows = pieces.pop(0), 0
                torch.set_num_threads(piece[0])
                start = time.perf_counter()
            elif piece is None:                    # evaluation: one count for all batches
                piece = [choice.best(X.numel()), 0, False]
                torch.set_num_threads(piece[0])
            if training:
                piece[1] -= 1
                rows += len(y)
            yield X, y
        if training and piece is not None and rows:
            choice.record(piece[0], rows, time.perf_counter() - start, piece[2])
    finally:
        torch.set_num_threads(ceiling)


def _torch():
    import torch   # here, not at the top: the CLI validates settings (config.py) before loading torch
    return torch
