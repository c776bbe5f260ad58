"""Fault: a command is told to write its file where no file can be: `--out .`, `--out ''`, a directory,
`/`, a path under a regular file, a directory without write permission.

Expected: one line naming the option and the path, exit 2, before any work is done (one check,
linnet.atomic.check_output_path, for every command that writes a file); nothing is created.
"""
from __future__ import annotations

import os

import pytest
from fault_tools import assert_one_line_error, cli, make_run

DIRECTORY = "must name a file to write, not a directory"


def bad_paths(tmp_path) -> dict[str, tuple[str, str]]:
    (tmp_path / "a-file").write_text("x")
    return {
        "dot": (".", DIRECTORY),
        "empty": ("", DIRECTORY),
        "root": ("/", DIRECTORY),
        "a-directory": (str(tmp_path), DIRECTORY),
        "trailing-slash": (str(tmp_path / "new") + "/", DIRECTORY),
        "under-a-file": (str(tmp_path / "a-file" / "out.png"), f"{tmp_path / 'a-file'} is not a directory"),
        "deep-under-a-file": (str(tmp_path / "a-file" / "x" / "y.png"), f"{tmp_path / 'a-file'} is not a directory"),
    }


CASES = ("dot", "empty", "root", "a-directory", "trailing-slash", "under-a-file", "deep-under-a-file")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs"), "d", epochs=1)


@pytest.mark.parametrize("case", CASES)
def test_losses_out(tmp_path, capsys, case, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, says = bad_paths(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, out, err = cli(["losses", "--out", path], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "losses", "--out", says)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("case", CASES)
def test_data_grid(tmp_path, capsys, case):
    path, says = bad_paths(tmp_path)[case]
    rc, out, err = cli(["data", "--dataset", "digits", "--grid", path], capsys)
    assert rc == 2 and out == ""                          # said before the dataset is even described
    assert_one_line_error(err, "data", "--grid", says)


@pytest.mark.parametrize("case", ["dot", "a-directory", "under-a-file"])
def test_export_out(tmp_path, capsys, case, digits_run):
    path, says = bad_paths(tmp_path)[case]
    rc, out, err = cli(["export", digits_run, "--out", path], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "export", "--out", says)


@pytest.mark.parametrize("case", ["dot", "under-a-file"])
def test_predict_out(tmp_path, capsys, case, digits_run):
    path, says = bad_paths(tmp_path)[case]
    rc, out, err = cli(["predict", digits_run, "rows.csv", "--out", path], capsys)
    assert rc == 2 and out == ""
    assert_one_line_error(err, "predict", "--out", says)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode-555 directory")
def test_a_directory_without_write_permission(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    rc, _, err = cli(["losses", "--out", locked / "l.png"], capsys)
    assert rc == 2
    assert_one_line_error(err, "losses", f"no permission to write in {locked}")


def test_a_good_path_with_missing_directories_is_written(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "losses.png"
    rc, stdout, err = cli(["losses", "--out", out], capsys)
    assert rc == 0, err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
