"""What several subcommands share: building a frozen config from the flags, help that shows every
default, and errors that name the flag the user typed.

The Python API's errors name parameters ("The 'lr_decay' parameter must be ..."), as scikit-learn's
do; on the command line the same check should name the flag ("The --lr-decay option must be ...").
`naming_flags` does that translation once, for every command, from the parser's own table of flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import re


def config_from_args(config_cls, args: argparse.Namespace):
    """Build the command's frozen config from the flags of the same names."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    return config_cls(**{k: v for k, v in vars(args).items() if k in names})


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Each option's help ends with its default, unless the help already says it in words (a default
    of None or False means "not given", which only words can explain); epilogs keep their lines."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default is argparse.SUPPRESS  # not 0
        if "default" in text.lower() or unset or action.nargs == 0 or not action.option_strings:  # nargs 0: a switch
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """linnet's parsers: defaults shown in every help (subcommands are made with this class too)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Parameter name -> the flag that sets it ('lr_decay' -> '--lr-decay'), from the parser itself."""
    flags = {}
    for action in parser._actions:
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and action.dest not in (None, argparse.SUPPRESS, "help"):
            flags[action.dest] = longs[0]
    return flags


# only a message that starts with the name is about the value typed; "config.json: The 'seed' ..." is about a file
_NAMED = re.compile(r"^The '(\w+)'( parameter| option)?")


def flag_message(message: str, flags: dict[str, str]) -> str:
    """"The 'lr_decay' parameter must be ..." -> "The --lr-decay option must be ..." for names that are
    flags of this command; other text (values, file names) is left as it is."""
    def swap(m: re.Match) -> str:
        flag = flags.get(m.group(1))
        if flag is None:
            return m.group(0)
        return f"The {flag}" + (" option" if m.group(2) else "")
    return _NAMED.sub(swap, message)


def naming_flags(run, flags: dict[str, str]):
    """`run(args)` whose LinnetErrors name flags instead of parameters (same type, same exit code)."""
    @functools.wraps(run)
    def wrapped(args):
        from linnet.errors import LinnetError
        try:
            return run(args)
        except LinnetError as exc:
            if len(exc.args) == 1 and isinstance(exc.args[0], str):
                exc.args = (flag_message(exc.args[0], flags),)
            raise
    return wrapped


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
