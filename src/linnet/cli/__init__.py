"""The `linnet` command: one module per subcommand, each declaring its flags and running them.

  data.py      linnet data       describe a dataset, time one pass, save an image grid
  train.py     linnet train      train into a run directory, or --resume one
  evaluate.py  linnet evaluate   test loss, accuracy and per-class accuracy of a run
  predict.py   linnet predict    top-3 classes for image files
  losses.py    linnet losses     the L2 / L1 / Huber and LogSumExp figure
  export.py    linnet export     the run's model as ONNX, preprocessing included
  runs.py      linnet runs       a table of the runs in a runs directory
  common.py    what they share: help showing every default, errors naming the flag (--lr-decay)

Parsing imports nothing heavy (no torch, numpy or matplotlib), so `linnet --help` and every usage
error answer at once; a command imports what it needs when it runs. Errors a user can cause
(LinnetError) end as one line on stderr and exit code 2, never a traceback.

Output is a by-product: a reader that leaves (`| head -1`) or a stdout that cannot be written never
stops the work (linnet.streams, installed by the entry point, linnet.__main__); a run goes on to its
last epoch and report. A reader that left is no error (exit status of the work); any other failure
to write stdout is said in one line at the end, exit 2.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from linnet import streams
from linnet.cli import data, evaluate, export, losses, predict, runs, train
from linnet.cli.common import Parser, flag_names, naming_flags
from linnet.errors import LinnetError, RunInterrupted, TrainingDiverged

COMMANDS = (data, train, evaluate, predict, losses, export, runs)

# Examples under `linnet --help` and `linnet train --help`: commands that work as written
EXAMPLES = {
    None: """examples:
  linnet train --dataset digits                    train softmax regression offline (about a second)
  linnet train                                     the book's run: Fashion-MNIST, 10 epochs (downloads once)
  linnet runs                                      the runs so far: name, dataset, epochs, test accuracy
  linnet evaluate runs/NAME --json                 test loss and per-class accuracy of a run
  linnet predict runs/NAME photos/ --top-k 5       classes of every image in a directory
  linnet losses                                    the loss functions figure, into losses.png
  linnet COMMAND --help                            each command's options and their defaults""",
    "train": """examples:
  linnet train --dataset digits --epochs 5         a quick offline run into runs/<name>
  linnet train --lr 0.05 --name slow               the book's Fashion-MNIST run at another lr
  linnet train --solver lbfgs --dataset digits     the convex optimum in one full-batch solve
  linnet train --model linear                      linear regression on the book's synthetic data
  linnet train --data photos/ --resize 28          your own image folder (PATH/<class>/*.png)
  linnet train --resume runs/NAME                  finish an interrupted run's plan""",
}


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (the run directory keeps its last complete epoch)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def build_parser() -> argparse.ArgumentParser:
    """The whole command line. Every subcommand's help shows its defaults (cli.common.Parser), and
    its errors name flags, not API parameters (cli.common.naming_flags), set here once for all."""
    from linnet import __version__   # linnet/__init__ is lazy: no torch for --version
    parser = Parser(prog="linnet", description="Linear neural networks: data, training, plots.",
                    epilog=EXAMPLES[None])
    parser.add_argument("--version", action="version", version=f"linnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    for name, command_parser in sub.choices.items():
        command_parser.epilog = command_parser.epilog or EXAMPLES.get(name)
        command_parser.set_defaults(run=naming_flags(command_parser.get_default("run"), flag_names(command_parser)))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)   # `linnet train --nproc` starts it again N times
    code = _run_command(args)
    failed = streams.failure("stdout")
    if failed is not None and not streams.reader_left(failed):
        print(f"linnet {args.command}: error: cannot write to standard output ({failed.strerror or failed}); "
              "its output was dropped", file=sys.stderr)
        code = code or 2
    return code


def _run_command(args) -> int:
    """args.run(args), every way it can end turned into an exit code (and at most one line on stderr)."""
    previous_int, previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        # Ctrl-C becomes KeyboardInterrupt again (the entry point exits at once while starting)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _on_sigterm)
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
        signal.signal(signal.SIGINT, previous_int)


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
