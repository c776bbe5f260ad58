"""Data-parallel training on torch.distributed: N processes, one model, the update of the global batch.

Started by torchrun (`torchrun --nproc_per_node=N -m linnet train ...`, or `linnet train --nproc N`,
see linnet.launch), every process reads its rank and the world size from torchrun's environment.

- Sharded: each step's global minibatch. Every rank draws the same epoch order (the Loader's
  permutation seeded by (seed, epoch), set_epoch-style) and cuts each global batch of B rows into
  contiguous per-rank slices of B*r//N .. B*(r+1)//N rows (uneven when N does not divide B; the last
  short batch too, where a rank may get no row at all). A rank gathers only its own rows, resident
  or memory-mapped. Evaluation: each rank takes a contiguous slice of the test split.
- Reduced: per step, one all-reduce (SUM) of [the gradient of the SUMMED loss of its rows, loss
  sum, correct]; every rank divides by the global B and applies the identical SGD update (no
  broadcast of weights after the start). Per epoch, one all-reduce of the test sums.
- Written: rank 0 alone (run directory, checkpoints, figures, report, console); the others write
  and print nothing but their own errors.
- Exact: with the same N, bit for bit (gloo's sums run in a fixed order); against one process,
  to float rounding (the same sums in another order): 1e-6 on the weights after a few epochs.
"""
from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator
from datetime import timedelta

import torch
import torch.distributed as dist

from linnet.errors import ConfigError, LinnetError

QUIET_EXIT = 3   # a rank other than 0 stopped because the run stopped; rank 0 (or the launcher) says why
TIMEOUT_ENV = "LINNET_DIST_TIMEOUT"
DEFAULT_TIMEOUT = 300.0   # seconds a rank waits in a collective for a silent (hung) peer; a dead one is seen at once


class PeerLost(LinnetError):
    """A process of a distributed run died, was stopped, or stopped answering: every rank stops."""


def timeout_seconds() -> float:
    """$LINNET_DIST_TIMEOUT (seconds > 0), else DEFAULT_TIMEOUT; it also bounds the wait for rank 0's data."""
    text = os.environ.get(TIMEOUT_ENV)
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise ConfigError(f"The {TIMEOUT_ENV} environment variable must be a number of seconds > 0. Got {text!r}.")
    return value


class DataParallel:
    """One process's part of a data-parallel run; `fit` calls `epoch_steps` and `evaluate` through it."""

    def __init__(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size
        self.where = "The run directory"   # rank 0 names its run directory here, for the error line

    @property
    def is_writer(self) -> bool:
        """Rank 0 writes the run directory and talks to the user; the others stay silent."""
        return self.rank == 0

    def _collective(self, what: str, call, *args, **kwargs):
        """A collective call; a peer that died or timed out becomes one PeerLost line."""
        try:
            return call(*args, **kwargs)
        except (RuntimeError, dist.DistError) as exc:   # gloo: "Connection closed by peer", timeouts
            # torchrun's agent now sends SIGTERM to the survivors: this rank is already on its way out and
            # says why in one line; a second signal mid-sentence would only add a traceback.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            first = re.sub(r"\[[^\]]*\.(cc|cpp|h):\d+\] ", "", first).split(". ")[0]   # gloo's source location
            raise PeerLost(f"rank {self.rank} of {self.world_size} lost the other processes during {what} "
                           f"({first[:160]}); every rank stops. {self.where} keeps its last complete epoch: "
                           f"continue with --resume") from None

    # -- the start: rank 0's plan and weights go to every rank ---------------------------------------------

    def lead(self, run_path, cfg, ds, start_epoch: int, epochs: int, model, lr_start: int = 0) -> None:
        """Rank 0, before its first step: tell the other ranks what to train (they wait in `follow`);
        `lr_start`: where a resume that changed the lr starts its schedule (linnet.plan)."""
        self.where = str(run_path)
        self.share_plan({"cfg": cfg, "stats": ds.stats, "start_epoch": start_epoch, "epochs": epochs,
                         "lr_start": lr_start})
        self.share_weights(model)

    def share_plan(self, plan: dict | None) -> dict:
        """Rank 0's plan (settings, first epoch, epochs) to every rank; the others pass None."""
        box = [plan]
        self._collective("the start", dist.broadcast_object_list, box, src=0)
        return box[0]

    def share_weights(self, model) -> None:
        """Rank 0's weights to every rank: a resumed run's checkpoint is read by rank 0 alone."""
        state = model.state_dict()
        for name in sorted(state):
            self._collective("the start", dist.broadcast, state[name], src=0)
        model.load_state_dict(state)

    # -- the steps ---------------------------------------------------------------------------------------

    def epoch_steps(self, model, loader, epoch: int, lr: float, weight_decay: float,
                    device=None) -> Iterator[tuple[float, int, int]]:
        """(summed loss, correct, global batch size) of each step of epoch `epoch`, over all ranks."""
        if not hasattr(loader, "epoch_order") or not hasattr(model, "local_gradient"):
            raise ConfigError("Distributed training needs a linnet Loader and a linnet model "
                              f"(with local_gradient). Got {type(loader).__name__}, {type(model).__name__}.")
        n, size = len(loader.epoch_order(epoch)), loader.batch_size      # the same on every rank
        mine = loader.epoch_batches(epoch, raw=getattr(model, "accepts_uint8", False),
                                    shard=(self.rank, self.world_size))  # this rank's part of each batch
        for start, (X, y) in zip(range(0, n, size), mine, strict=True):
            if device is not None:
                X, y = X.to(device), y.to(device)
            loss_sum, correct, grads = model.local_gradient(X, y)
            loss_sum, correct = self.all_reduce(grads, [loss_sum, correct], f"epoch {epoch + 1}")
            batch = min(size, n - start)                                 # the global batch's size
            model.apply_gradient(lr, batch, weight_decay)
            yield loss_sum, int(correct), batch

    def all_reduce(self, tensors: list[torch.Tensor], numbers: list[float], what: str) -> list[float]:
        """Sum `tensors` (in place) and `numbers` over the ranks in one message; returns the summed numbers.

        Packed in float64: one all-reduce a step, and the sums of float32 gradients lose no digit there.
        """
        device = tensors[0].device if tensors else "cpu"
        flat = torch.cat([t.reshape(-1).to(torch.float64) for t in tensors]
                         + [torch.tensor(numbers, dtype=torch.float64, device=device)])
        self._collective(what, dist.all_reduce, flat, op=dist.ReduceOp.SUM)
        at = 0
        for t in tensors:
            t.copy_(flat[at:at + t.numel()].view(t.shape))
            at += t.numel()
        return flat[at:].tolist()

    def evaluate(self, model, loader, device=None) -> tuple[float, float | None]:
        """train.evaluate over this rank's contiguous slice of the test split, summed over the ranks."""
        from linnet.data.dataset import Split
        from linnet.data.loader import Loader, contiguous_share
        from linnet.train import evaluate
        split = loader.split
        share = contiguous_share(len(split), self.rank, self.world_size)
        sums = [0.0, 0.0, 0.0]                              # loss sum, correct, count
        if share.stop > share.start:
            part = Loader(Split(split.images[share], split.labels[share]), loader.batch_size, resize=loader.resize)
            mean_loss, acc = evaluate(model, part, device)
            count = share.stop - share.start
            sums = [mean_loss * count, (acc or 0.0) * count, float(count)]
        loss_sum, correct, count = self.all_reduce([], sums, "the test evaluation")
        return loss_sum / count, (correct / count if model.kind == "softmax" else None)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def follow(parallel: DataParallel) -> None:
    """A rank other than 0, its whole run: rank 0's plan and weights, the same data, the shared steps;
    no run directory, no callbacks, no output (the run's pieces come from linnet.experiment)."""
    from linnet import experiment
    from linnet.models import build_model
    from linnet.rundata import load_for, num_inputs
    from linnet.restore import resolve_device
    plan = parallel.share_plan(None)
    cfg = plan["cfg"]
    ds = load_for(cfg, plan["stats"])
    device = resolve_device(cfg.device)
    model = build_model(cfg.model, cfg.impl, num_inputs(cfg, ds), len(ds.classes) or 1, device=device)
    parallel.share_weights(model)
    experiment._fit(cfg, model, ds, device, None, plan["start_epoch"], [], plan["epochs"], (), True, parallel,
                    plan.get("lr_start", 0))


def run_rank(parallel: DataParallel, lead: Callable[[], int]) -> int:
    """This rank's part of the command: rank 0 runs `lead` (the command itself, output and run directory);
    the others `follow`, silent but for errors of their own (a rank's data, say), exit code QUIET_EXIT
    when they stop because the run stopped (a lost peer, divergence, Ctrl-C)."""
    from linnet.errors import TrainingDiverged
    if not parallel.is_writer:
        try:
            follow(parallel)
        except (PeerLost, TrainingDiverged, KeyboardInterrupt):
            return QUIET_EXIT
    else:
        code = lead()
        if code:
            return code
    parallel.close()
    return 0


def from_env(solver: str = "sgd") -> DataParallel | None:
    """Join the process group torchrun describes in the environment; None when not started by torchrun
    or in a world of one (the plain single-process path then runs, bit for bit)."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    world_size, rank = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    if world_size < 2:
        return None
    if solver == "lbfgs":
        raise ConfigError(f"--solver lbfgs solves the full batch in one process; run it without torchrun. "
                          f"Got {world_size} processes.")
    if not dist.is_available():
        raise ConfigError("This PyTorch build has no torch.distributed; run on one process (no torchrun).")
    backend = "gloo"
    if torch.cuda.is_available():   # each rank its own GPU; gloo still carries CPU tensors
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        backend = "cpu:gloo,cuda:nccl"
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_seconds()))
    except (RuntimeError, ValueError, dist.DistError) as exc:
        raise PeerLost(f"rank {rank} could not join the process group: {str(exc).splitlines()[0][:200]}") from None
    return DataParallel(rank, world_size)
