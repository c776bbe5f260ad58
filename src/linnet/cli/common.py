"""What several subcommands share: the data flags, and building a frozen config from the flags."""
from __future__ import annotations

import argparse
import dataclasses


def config_from_args(config_cls, args: argparse.Namespace):
    """Build the command's frozen config from the flags of the same names."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(args).items() if k in names})
