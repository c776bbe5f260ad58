"""`linnet train --nproc N`: N data-parallel processes on this host, started by torchrun's own launcher.

The same as `torchrun --standalone --nproc_per_node=N -m linnet train ...` (torch's elastic agent, a
c10d rendezvous on a free 127.0.0.1 port, no restarts), run in-process so that a failure ends as
one line instead of torchrun's report: a rank that printed its own error (exit 1 or 2) has said
it; one killed by a signal is named here. The agent stops the other ranks when one fails, and on
Ctrl-C (SIGINT, SIGTERM) it stops them all; rank 0 then says where the run directory stands.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import uuid

from linnet.checks import check_int
from linnet.errors import ConfigError

SAID = (1, 2)            # exit codes of a rank that printed its error (see linnet.cli)
SAID_BY_WRITER = (130, 143)   # rank 0 stopped by a signal says where the run stands; the others are silent


def threads_per_process(nproc: int) -> int:
    """The cores of this host shared out (torchrun itself would give each worker 1 thread)."""
    return max(1, (os.cpu_count() or 1) // nproc)


def launch(nproc: int, argv: list[str]) -> int:
    """Run `python -m linnet *argv` as nproc ranks of one process group; returns the exit code."""
    check_int("nproc", nproc, 1)
    if "LOCAL_RANK" in os.environ:   # already one of torchrun's workers: it must not start N more
        raise ConfigError(f"--nproc starts the processes itself; under torchrun leave it out. Got --nproc {nproc}.")
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch
    for name in ("torch.distributed.elastic", "torch.distributed.launcher"):
        logging.getLogger(name).setLevel(logging.CRITICAL)   # the agent's progress notes: not the user's business
    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_process(nproc)))
    # The agent looks at its workers once a second: a rank that loses a peer sees it at once (gloo) and
    # says so itself, before the agent would stop it with a SIGTERM that tells nothing of the cause.
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0,
                          monitor_interval=1.0, start_method="spawn",
                          shutdown_timeout=15)   # s from SIGTERM (rank 0 saves where it stands) to SIGKILL
    try:
        elastic_launch(config, sys.executable)("-m", "linnet", *argv)
    except ChildFailedError as exc:
        return _report(exc.failures)
    except (SignalException, KeyboardInterrupt) as exc:   # Ctrl-C or SIGTERM: the ranks were stopped
        sig = getattr(exc, "sigval", signal.SIGINT)
        return 128 + int(sig)
    return 0


def without_nproc(argv: list[str]) -> list[str]:
    """The command line again, less its --nproc N (or --nproc=N): what each rank runs."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def _report(failures: dict) -> int:
    """One line for the first failed rank unless a rank said its own; the exit code to return."""
    rank, failure = min(failures.items(), key=lambda item: item[1].timestamp)
    said = [f for r, f in sorted(failures.items()) if f.exitcode in SAID or (r == 0 and f.exitcode in SAID_BY_WRITER)]
    if said and not (rank != 0 and failure.exitcode < 0 and said[0].exitcode in SAID_BY_WRITER):
        return said[0].exitcode   # a rank's own line says it (rank 0 stopped by the agent does not say why)
    if failure.exitcode < 0:
        how = f"was killed by {failure.signal_name()}"
        code = 128 - failure.exitcode
    else:
        how, code = f"exited with code {failure.exitcode}", failure.exitcode
    print(f"linnet train: error: rank {rank} (pid {failure.pid}) {how}; every other rank was stopped. "
          f"The run directory keeps its last complete epoch: continue with --resume", file=sys.stderr)
    return code
