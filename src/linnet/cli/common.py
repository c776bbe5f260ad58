"""What several subcommands share: the data flags, and building a frozen config from the flags."""
from __future__ import annotations

import argparse
import dataclasses
import functools


def config_from_args(config_cls, args: argparse.Namespace):
    """Build the command's frozen config from the flags of the same names."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(args).items() if k in names})


def track_given(parser: argparse.ArgumentParser) -> None:
    """After parsing, `args.given` holds the dests of the flags typed on the command line: `--resume`
    must tell `--impl fast` typed (to be checked against the run's impl) from the default fast."""
    parser.set_defaults(given=frozenset())
    for action in parser._actions:  # argparse has no public per-action hook; _actions is stable since 3.2
        if action.option_strings and action.dest not in ("help", "given"):
            action.__class__ = _given_action(type(action))


@functools.cache
def _given_action(cls: type) -> type:
    class Given(cls):
        def __call__(self, parser, namespace, values, option_string=None):
            super().__call__(parser, namespace, values, option_string)
            namespace.given = namespace.given | {self.dest}
    return Given
