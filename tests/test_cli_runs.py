"""`linnet runs [RUNS_DIR] [--json]`: the table of runs, its JSON, its errors; no torch imported."""
import json
import subprocess
import sys

from helpers_train import run_cli
from test_runlist import fake_run


def runs_dir(tmp_path):
    root = tmp_path / "runs"
    fake_run(root, "softmax-digits-1", "2026-11-21T10:00:00+0000", {
        "dataset": "digits", "impl": "fast", "solver": "sgd", "epochs": 20, "test_acc": 0.9528, "test_loss": 0.2})
    fake_run(root, "lin", "2026-11-21T11:30:00+0000", {
        "dataset": "synthetic", "impl": "concise", "solver": "sgd", "epochs": 3, "test_acc": None, "test_loss": 5.1e-5})
    fake_run(root, "solved", "2026-11-21T12:00:00+0000", {
        "dataset": "digits", "impl": "fast", "solver": "lbfgs", "epochs": 1, "test_acc": 0.97, "test_loss": 0.1})
    fake_run(root, "started", "2026-11-21T13:00:00+0000")
    return root


def test_the_table_has_one_aligned_line_per_run(tmp_path, capsys):
    rc, out, err = run_cli(["runs", runs_dir(tmp_path)], capsys)
    assert rc == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "DATASET", "IMPL", "EPOCHS", "TEST", "DATE"]
    assert lines[1].split() == ["softmax-digits-1", "digits", "fast", "20", "acc", "0.9528", "2026-11-21", "10:00"]
    assert lines[2].split() == ["lin", "synthetic", "concise", "3", "loss", "5.1e-05", "2026-11-21", "11:30"]
    assert lines[3].split()[:3] == ["solved", "digits", "lbfgs"]
    assert "no epoch completed yet" in lines[4]
    for head in ("DATASET", "IMPL", "DATE"):                          # the columns line up under their heads
        col = lines[0].index(head)
        assert all(line[col - 2:col] == "  " and line[col] != " " for line in lines[1:4]), head


def test_json_lists_every_run(tmp_path, capsys):
    rc, out, _ = run_cli(["runs", runs_dir(tmp_path), "--json"], capsys)
    rows = json.loads(out)
    assert rc == 0 and [r["name"] for r in rows] == ["softmax-digits-1", "lin", "solved", "started"]
    assert rows[0]["test_acc"] == 0.9528 and rows[1]["test_loss"] == 5.1e-5


def test_no_runs_and_a_missing_directory(tmp_path, capsys):
    rc, out, _ = run_cli(["runs", tmp_path], capsys)
    assert rc == 0 and out == f"no runs in {tmp_path}\n"
    rc, out, err = run_cli(["runs", tmp_path / "nowhere"], capsys)
    assert rc == 2 and out == "" and err.startswith("linnet runs: error: The runs directory") and err.count("\n") == 1


def test_the_default_runs_dir_is_runs_in_the_current_directory(tmp_path):
    runs_dir(tmp_path)
    script = "import sys, linnet.cli as c; rc = c.main(['runs']); print('torch' in sys.modules); sys.exit(rc)"
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "softmax-digits-1" in out.stdout and out.stdout.splitlines()[-1] == "False"   # listing needs no torch
