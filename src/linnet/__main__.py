"""The `linnet` command's entry point (console script, `python -m linnet`, `torchrun -m linnet`).

First thing, before argparse, torch or any other import that takes time: Ctrl-C is one line and
exit 130 (the default handler would print a traceback of whichever import it hit), and the standard
streams are made safe (linnet.streams). linnet.cli.main() then hands Ctrl-C back to Python's handler,
so that a run in progress is stopped the way it expects (checkpoint kept, resume named).
"""
import os
import signal
import sys


def _interrupted_while_starting(signum, frame) -> None:
    os.write(2, b"linnet: interrupted\n")   # no print: the stream may be mid-write, or not set up yet
    os._exit(130 if signum == signal.SIGINT else 143)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    signal.signal(signal.SIGTERM, _interrupted_while_starting)
    from linnet import streams
    streams.install()
    from linnet.cli import run
    run()


if __name__ == "__main__":
    main()
