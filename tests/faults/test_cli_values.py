"""Fault: bad values on the command line, missing or unusable directories.

Expected: one line on stderr naming the flag (--lr-decay, not the API's lr_decay), exit code 2,
no traceback, and nothing created: no runs directory, no run directory. Values argparse itself refuses (not a choice, not a number) give argparse's
usage line plus one error line, also exit code 2.
"""
from __future__ import annotations

import os

import pytest
from fault_tools import assert_argparse_error, assert_one_line_error, cli, make_run, snapshot

TRAIN = ["train", "--dataset", "digits", "--epochs", 1, "--quiet"]


def train_argv(tmp_path, *extra):
    return [*TRAIN, "--runs-dir", tmp_path / "runs", "--name", "x", *extra]


@pytest.mark.parametrize("flags,message", [
    (["--lr", "0"], "The --lr option must be a float in (0, inf). Got 0.0."),
    (["--lr", "-1"], "The --lr option must be a float in (0, inf). Got -1.0."),
    (["--lr", "nan"], "The --lr option must be a float in (0, inf). Got nan."),
    (["--lr", "inf"], "The --lr option must be a float in (0, inf). Got inf."),
    (["--batch-size", "0"], "The --batch-size option must be an int >= 1. Got 0."),
    (["--batch-size", "-3"], "The --batch-size option must be an int >= 1. Got -3."),
    (["--epochs", "0"], "The --epochs option must be an int >= 1. Got 0."),
    (["--epochs", "-1"], "The --epochs option must be an int >= 1. Got -1."),
    (["--lr-decay", "0"], "The --lr-decay option must be a float in (0, 1]."),
    (["--lr-decay", "1.5"], "The --lr-decay option must be a float in (0, 1]."),
    (["--lr-step", "0"], "The --lr-step option must be an int >= 1. Got 0."),
    (["--weight-decay", "-0.1"], "The --weight-decay option must be a float in [0, inf). Got -0.1."),
    (["--seed", "-1"], "The --seed option must be an int in [0, 4294967295]. Got -1."),
    (["--seed", "18446744073709551616"], "The --seed option must be an int in [0, 4294967295]. Got 18446744073709551616."),
    (["--resize", "0"], "The --resize option must be an int >= 1. Got 0."),
    (["--name", "a/b"], "The --name option must be a plain directory name. Got 'a/b'."),
    (["--model", "linear"], "The --model 'linear' does not fit the dataset 'digits'"),
])
def test_out_of_range_values(tmp_path, capsys, flags, message):
    rc, out, err = cli(train_argv(tmp_path, *flags), capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", message)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("flags,needle", [
    (["--dataset", "nope"], "argument --dataset: invalid choice: 'nope'"),
    (["--impl", "nope"], "argument --impl: invalid choice: 'nope'"),
    (["--model", "nope"], "argument --model: invalid choice: 'nope'"),
    (["--solver", "adam"], "argument --solver: invalid choice: 'adam'"),
    (["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    (["--epochs", "1.5"], "argument --epochs: invalid int value: '1.5'"),
    (["--batch-size", ""], "argument --batch-size: invalid int value: ''"),
])
def test_values_argparse_refuses(tmp_path, capsys, flags, needle):
    rc, out, err = cli(train_argv(tmp_path, *flags), capsys)
    assert out == ""
    assert_argparse_error(rc, err, "train", needle)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", [["data", "--dataset", "nope"], ["evaluate", "RUN", "--dataset", "nope"]])
def test_unknown_dataset_in_other_commands(tmp_path, capsys, command):
    rc, _, err = cli(command, capsys)
    assert_argparse_error(rc, err, command[0], "argument --dataset: invalid choice: 'nope'")


@pytest.mark.parametrize("flags,message", [(["--batch-size", "0"], "The --batch-size option must be an int >= 1"),
                                           (["--resize", "-2"], "The --resize option must be an int >= 1")])
def test_data_command_values(capsys, flags, message):
    rc, out, err = cli(["data", "--dataset", "digits", *flags], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "data", message)


def test_resume_of_a_missing_run_dir(tmp_path, capsys):
    missing = tmp_path / "runs" / "never"
    rc, out, err = cli(["train", "--resume", missing, "--epochs", 1], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", f"run directory {missing} does not exist")
    assert not (tmp_path / "runs").exists()


def test_resume_of_a_directory_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "somewhere").mkdir()
    (tmp_path / "somewhere" / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path / "somewhere")
    rc, _, err = cli(["train", "--resume", tmp_path / "somewhere", "--epochs", 1], capsys)
    assert rc == 2
    assert_one_line_error(err, "train", f"{tmp_path / 'somewhere'} is not a linnet run directory (no config.json)")
    assert snapshot(tmp_path / "somewhere") == before


def test_resume_with_zero_more_epochs(tmp_path, capsys):
    run = make_run(tmp_path, "r", epochs=1)
    before = snapshot(run)
    rc, _, err = cli(["train", "--resume", run, "--epochs", 0], capsys)
    assert rc == 2
    assert_one_line_error(err, "train", "The --epochs option must be an int >= 1. Got 0.")
    assert snapshot(run) == before


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_evaluate_and_predict_of_a_missing_run_dir(tmp_path, capsys, command):
    missing = tmp_path / "runs" / "never"
    argv = [command, missing] + ([tmp_path / "x.png"] if command == "predict" else [])
    rc, out, err = cli(argv, capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, command, f"run directory {missing} does not exist")
    assert not (tmp_path / "runs").exists()


def test_predict_with_a_linear_regression_run(tmp_path, capsys):
    run = make_run(tmp_path, "lin", model="linear", dataset="synthetic", epochs=1)
    rc, out, err = cli(["predict", run, tmp_path / "x.png"], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "predict", f"{run}: predict needs a softmax-regression run on images")


@pytest.mark.parametrize("where", ["is-a-file", "under-a-file"])
def test_a_runs_dir_that_cannot_be_created(tmp_path, capsys, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file\n")
    runs = blocker if where == "is-a-file" else blocker / "runs"
    rc, out, err = cli([*TRAIN, "--runs-dir", runs, "--name", "x"], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "train", f"cannot create the runs directory {runs}")
    assert blocker.read_text() == "a regular file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any directory whatever its mode")
def test_a_read_only_runs_dir(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    runs.chmod(0o500)
    try:
        rc, _, err = cli([*TRAIN, "--runs-dir", runs, "--name", "x"], capsys)
    finally:
        runs.chmod(0o700)
    assert rc == 2
    assert_one_line_error(err, "train", f"cannot create the run directory {runs / 'x'}", "Permission denied")
    assert list(runs.iterdir()) == []


def test_a_data_dir_that_is_a_file(tmp_path, capsys):
    (tmp_path / "data").write_text("a regular file\n")
    rc, _, err = cli(["train", "--dataset", "fashion-mnist", "--data-dir", tmp_path / "data", "--epochs", 1,
                      "--runs-dir", tmp_path / "runs"], capsys)
    assert rc == 2
    assert_one_line_error(err, "train", f"{tmp_path / 'data'}: cannot create the data directory")
    assert not (tmp_path / "runs").exists()
