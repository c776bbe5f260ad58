"""linnet.cli.common: help that shows every default, errors that name the flag typed."""
import argparse

import pytest
from helpers_train import run_cli

from linnet.cli import build_parser
from linnet.cli.common import flag_message, flag_names
from linnet.config import TrainConfig
from linnet.errors import ConfigError


def subparsers():
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def value_options(parser):
    """Options that take a value (not --help, --version, or a switch)."""
    return [a for a in parser._actions if a.option_strings and a.nargs != 0 and a.dest not in ("help", "version")]


@pytest.mark.parametrize("command", sorted(subparsers()))
def test_every_option_with_a_value_says_its_default(command):
    parser = subparsers()[command]
    text = parser.format_help()
    formatter = parser._get_formatter()
    for action in value_options(parser):
        assert action.help, f"linnet {command} {action.option_strings[0]} has no help text"
        template = formatter._get_help_string(action)          # the help with "(default: %(default)s)" added
        assert "default" in template.lower(), f"linnet {command} {action.option_strings[0]}: {template!r}"
    assert "(default: None)" not in text and "(default: False)" not in text and "(default: True)" not in text


def test_defaults_are_shown_by_value_and_examples_close_the_main_and_train_help():
    train = subparsers()["train"].format_help()
    assert f"(default: {TrainConfig.lr_step})" in train and f"(default: {TrainConfig.runs_dir})" in train
    assert "examples:\n  linnet train --dataset digits" in train
    main = build_parser().format_help()
    assert "examples:" in main and "linnet runs" in main and "--version" in main
    assert "(default: losses.png)" in subparsers()["losses"].format_help()


def test_flag_names_come_from_the_parser():
    flags = flag_names(subparsers()["train"])
    assert flags["lr_decay"] == "--lr-decay" and flags["batch_size"] == "--batch-size"
    assert flags["plots"] == "--no-plots" and "help" not in flags


@pytest.mark.parametrize("message, expected", [
    ("The 'lr_decay' parameter must be a float in (0, 1]. Got 2.0.", "The --lr-decay option must be a float in (0, 1]. Got 2.0."),
    ("The 'out' option writes a table run's predictions.", "The --out option writes a table run's predictions."),
    ("The 'model' 'linear' does not fit the dataset 'digits'.", "The --model 'linear' does not fit the dataset 'digits'."),
    ("The 'w' parameter must be finite.", "The 'w' parameter must be finite."),          # not a flag: unchanged
    ("x.png: not an image file", "x.png: not an image file"),
])
def test_flag_message(message, expected):
    flags = {"lr_decay": "--lr-decay", "out": "--out", "model": "--model", "dataset": "--dataset"}
    assert flag_message(message, flags) == expected


def test_the_cli_names_the_flag_and_the_api_the_parameter(tmp_path, capsys):
    rc, out, err = run_cli(["train", "--dataset", "digits", "--lr-decay", "2", "--runs-dir", tmp_path], capsys)
    assert rc == 2 and err == "linnet train: error: The --lr-decay option must be a float in (0, 1]. Got 2.0.\n"
    with pytest.raises(ConfigError, match=r"^The 'lr_decay' parameter must be a float in \(0, 1\]\. Got 2\.0\.$"):
        TrainConfig(dataset="digits", lr_decay=2.0)
    rc, _, err = run_cli(["train", "--dataset", "digits", "--batch-size", "0", "--runs-dir", tmp_path], capsys)
    assert rc == 2 and "The --batch-size option must be an int >= 1. Got 0." in err
    rc, _, err = run_cli(["predict", tmp_path, "x.png", "--top-k", "0"], capsys)
    assert rc == 2 and err == "linnet predict: error: The --top-k option must be an int >= 1. Got 0.\n"
