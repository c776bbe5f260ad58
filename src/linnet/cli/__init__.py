"""The `linnet` command: one module per subcommand, each declaring its flags and running them.

  data.py      linnet data       describe a dataset, time one pass, save an image grid
  train.py     linnet train      train into a run directory, or --resume one
  evaluate.py  linnet evaluate   test loss, accuracy and per-class accuracy of a run
  predict.py   linnet predict    top-3 classes for image files
  losses.py    linnet losses     the L2 / L1 / Huber and LogSumExp figure
  export.py    linnet export     the run's model as ONNX, preprocessing included

Parsing imports nothing heavy (no torch, numpy or matplotlib), so `linnet --help` and every usage
error answer at once; a command imports what it needs when it runs. Errors a user can cause
(LinnetError) end as one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from linnet.cli import data, evaluate, export, losses, predict, train
from linnet.errors import LinnetError, RunInterrupted, TrainingDiverged

COMMANDS = (data, train, evaluate, predict, losses, export)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (the run directory keeps its last complete epoch)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linnet", description="Linear neural networks: data, training, plots.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)   # `linnet train --nproc` starts it again N times
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.run(args)
    except TrainingDiverged as exc:
        print(f"linnet {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except LinnetError as exc:
        print(f"linnet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RunInterrupted as exc:
        print(f"linnet {args.command}: {exc}", file=sys.stderr)
        return 143 if exc.signal_name == "Terminated" else 130
    except BrokenPipeError:  # `linnet ... | head`: the reader left; not an error of ours
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt as exc:
        print(f"linnet {args.command}: interrupted", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def run() -> None:
    """The `linnet` console script: main(), then exit without tearing the interpreter down.

    By then everything main() wrote is closed (atomic writes, context managers); what is left is
    freeing torch's modules, ~0.3 s measured here, a tenth of a whole `linnet train`. An exception
    out of main() still takes the normal way (traceback, teardown)."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that left, a closed stream: nothing more to say
            pass
    os._exit(code)
