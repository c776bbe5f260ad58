"""The compiled inner loop of linnet.models.fast (_kernel.c beside this file), called through ctypes.

`LIB` is the loaded library, or None with `WHY_NOT` saying why: not built (the build is optional,
see setup.py), a CPU without AVX2, or turned off with LINNET_KERNEL=0. fast.py uses it for
uint8 images when it can and runs its torch code otherwise; the tests hold the two to each other.

Results do not depend on the thread count: the kernel splits a step's rows (forward) and W's
columns (backward) over the threads, never a sum, so 1 and 2 threads give the same bits; which
count runs is chosen by measured speed, or fixed by the user (linnet.threads.ThreadChoice).
"""
from __future__ import annotations

import ctypes
import importlib.util
import os
import time
from typing import NamedTuple

import torch
from torch import Tensor

from linnet.errors import DataError
from linnet.threads import ThreadChoice

_P, _I, _F, _INT = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_int
# The kernel prefetches the next step's rows during the backward pass; LINNET_PREFETCH=0 turns that
# off, so that `make bench` can show what it brings (same results either way: no arithmetic changes).
PREFETCH = os.environ.get("LINNET_PREFETCH", "1") != "0"


def _load() -> tuple[ctypes.CDLL | None, str]:
    if os.environ.get("LINNET_KERNEL", "1") == "0":
        return None, "turned off by LINNET_KERNEL=0"
    capability = torch.backends.cpu.get_cpu_capability()
    if not capability.startswith(("AVX2", "AVX512")):
        return None, f"the CPU lacks AVX2 (torch reports {capability})"
    spec = importlib.util.find_spec("linnet.models._kernel")
    if spec is None or spec.origin is None:
        return None, "not built (no C compiler when linnet was installed? see setup.py)"
    lib = ctypes.CDLL(spec.origin)
    lib.linnet_logits.restype = None
    lib.linnet_logits.argtypes = [_P, _I, _I, _I, _P, _P, _F, _P, _INT]
    lib.linnet_sgd_steps.restype = _I
    lib.linnet_sgd_steps.argtypes = [_P, _P, _P, _I, _I, _I, _I, _P, _P, _F, _F, _F,
                                     _P, _P, _P, _P, _P, _P, _P, _INT, _INT]
    lib.linnet_evaluate.restype = _I
    lib.linnet_evaluate.argtypes = [_P, _P, _I, _I, _I, _P, _P, _F, _P, _P, _P, _INT]
    return lib, ""


LIB, WHY_NOT = _load()


def describe() -> str:
    """One line for run records and the benchmark: which inner loop linnet.models.fast runs here."""
    return "compiled (AVX2)" if LIB is not None else f"torch code ({WHY_NOT})"


def usable(images: Tensor, weight_t: Tensor) -> bool:
    """Whether the kernel can take these uint8 images (n, ...) for this (k, d) float32 CPU weight."""
    if LIB is None or images.dtype != torch.uint8 or len(images) == 0:
        return False
    return (images.device.type == "cpu" and images.is_contiguous() and images[0].numel() == weight_t.shape[1]
            and weight_t.dtype == torch.float32 and weight_t.device.type == "cpu")


def logits(images: Tensor, weight_t: Tensor, bias: Tensor, scale: float, threads: ThreadChoice) -> Tensor:
    """(n, k) = scale * images W + b for uint8 images (n, ...) (see `usable`)."""
    (k, d), n = weight_t.shape, len(images)
    out = torch.empty(n, k)
    LIB.linnet_logits(images.data_ptr(), n, d, k, weight_t.data_ptr(), bias.data_ptr(), scale,
                      out.data_ptr(), threads.best(n * d))
    return out


EVAL_BLOCK = 256   # rows per partial sum in linnet_evaluate (_kernel.c's EVAL_BLOCK)


def evaluate(images: Tensor, labels: Tensor, weight_t: Tensor, bias: Tensor, scale: float,
             threads: ThreadChoice) -> tuple[float, int]:
    """(summed cross-entropy, correct) over uint8 images (n, ...) with int64 labels (n,), in one call
    that keeps no logits. The same sums whatever the thread count (fixed blocks, added in order)."""
    (k, d), n = weight_t.shape, len(images)
    blocks = -(-n // EVAL_BLOCK)
    block_loss, block_hits = torch.empty(blocks, dtype=torch.float64), torch.empty(blocks, dtype=torch.int64)
    count = threads.best(n * d)
    scratch = torch.empty(count, 2, k)                                  # two rows' logits per thread
    bad = LIB.linnet_evaluate(images.data_ptr(), labels.data_ptr(), n, d, k, weight_t.data_ptr(), bias.data_ptr(),
                              scale, block_loss.data_ptr(), block_hits.data_ptr(), scratch.data_ptr(), count)
    if bad < 0:
        _bad_label(labels, None, -1 - bad, k)
    return sum(block_loss.tolist()), sum(block_hits.tolist())


COPY_MAX_BYTES = 8 << 20   # larger batches are not copied contiguous: the backward pass reads them in place


class Workspace(NamedTuple):
    """Scratch memory for minibatches of one size, allocated once per model and size."""
    rows: Tensor       # (B,) pointers to the batch's rows
    batch_rows: Tensor | None  # (B, d) uint8: the step's rows copied contiguous for the backward pass
    grad: Tensor       # (B, k) logits -> softmax(o) - onehot(y)
    row_loss: Tensor   # (B,) float32
    row_hit: Tensor    # (B,) int32

    @classmethod
    def new(cls, batch_size: int, d: int, k: int) -> "Workspace":
        copy = torch.empty(batch_size, d, dtype=torch.uint8) if batch_size * d <= COPY_MAX_BYTES else None
        return cls(torch.empty(batch_size, dtype=torch.int64), copy, torch.empty(batch_size, k), torch.empty(batch_size), torch.empty(batch_size, dtype=torch.int32))


def sgd_steps(images: Tensor, labels: Tensor, index: Tensor | None, batch_size: int, weight_t: Tensor,
              bias: Tensor, lr: float, weight_decay: float, scale: float, ws: Workspace,
              threads: ThreadChoice) -> tuple[list, list]:
    """SGD steps in place over images[index] (None: in order) in minibatches of `batch_size`.

    Returns the per-step (summed loss, correct) lists, both measured before each update. They stop
    early after a step whose loss is not finite (the caller reports the divergence there).
    """
    n = len(images) if index is None else len(index)
    (k, d) = weight_t.shape
    steps = -(-n // batch_size)
    loss_sum, correct = torch.empty(steps, dtype=torch.float64), torch.empty(steps, dtype=torch.int64)
    work = batch_size * d
    warming = threads.warming(work)
    count, trial = threads.plan(work)
    pieces = [(count, 0, n, False)]                 # (threads, first row, end row, trial?); None: threads.faster
    if trial is not None:
        cut = min(n, batch_size * max(1, ThreadChoice.TRIAL_ROWS // batch_size))
        pieces = [(trial, 0, cut, True)]
        if warming and 2 * cut < n:   # as long a piece on one thread, then the rest on the faster of the two
            pieces += [(count, cut, 2 * cut, False), (None, 2 * cut, n, False)]
        elif cut < n:
            pieces.append((count, cut, n, False))
    done = 0
    for count, first, end, is_trial in pieces:
        count = threads.faster(work) if count is None else count
        rows = slice(first, end)
        X, y, idx = (images[rows], labels[rows], None) if index is None else (images, labels, index[rows])
        start = time.perf_counter()
        result = LIB.linnet_sgd_steps(
            X.data_ptr(), y.data_ptr(), None if idx is None else idx.data_ptr(), end - first, batch_size,
            d, k, weight_t.data_ptr(), bias.data_ptr(), lr, weight_decay, scale, ws.rows.data_ptr(),
            None if ws.batch_rows is None else ws.batch_rows.data_ptr(), ws.grad.data_ptr(), ws.row_loss.data_ptr(), ws.row_hit.data_ptr(),
            loss_sum[done:].data_ptr(), correct[done:].data_ptr(), count, int(PREFETCH))
        threads.record(count, end - first, time.perf_counter() - start, is_trial)
        if result < 0:
            _bad_label(labels, index, first + (-1 - result), k)
        done += result
        if done < -(-end // batch_size):            # stopped after a non-finite loss
            break
    return loss_sum[:done].tolist(), correct[:done].tolist()


def _bad_label(labels: Tensor, index: Tensor | None, i: int, k: int) -> None:
    sample = i if index is None else int(index[i])
    raise DataError(f"Label {int(labels[sample])} of sample {sample} is outside the model's classes 0..{k - 1}.")
