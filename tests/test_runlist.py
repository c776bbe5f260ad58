"""linnet.runlist: the runs of a runs directory, read from their JSON files."""
import json

import pytest

from linnet.errors import ConfigError
from linnet.runlist import list_runs, run_row


def fake_run(root, name, created, summary=None, config=None):
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(config if config is not None else {
        "created": created, "settings": {"impl": "scratch", "solver": "sgd"}, "dataset": {"name": "digits"}}))
    if summary is not None:
        (d / "summary.json").write_text(json.dumps(summary))
    return d


def test_runs_are_listed_oldest_first_with_their_results(tmp_path):
    fake_run(tmp_path, "b", "2026-11-21T10:00:00+0000", {"dataset": "digits", "impl": "fast", "solver": "sgd",
                                                          "epochs": 20, "test_acc": 0.95, "test_loss": 0.2})
    fake_run(tmp_path, "a", "2026-11-22T09:00:00+0000", {"dataset": "synthetic", "impl": "concise", "epochs": 3,
                                                          "test_acc": None, "test_loss": 5e-5})
    (tmp_path / "not-a-run").mkdir()                                   # no config, no checkpoint: skipped
    (tmp_path / "stray.txt").write_text("x")
    rows = list_runs(tmp_path)
    assert [r["name"] for r in rows] == ["b", "a"]
    assert rows[0] | {"path": None} == {"name": "b", "dataset": "digits", "impl": "fast", "solver": "sgd", "epochs": 20,
                                        "test_acc": 0.95, "test_loss": 0.2, "created": "2026-11-21T10:00:00+0000",
                                        "path": None}
    assert rows[1]["test_acc"] is None and rows[1]["test_loss"] == 5e-5


def test_a_run_without_a_finished_epoch_or_with_a_broken_config_is_listed_with_the_problem(tmp_path):
    fresh = fake_run(tmp_path, "fresh", "2026-11-21T10:00:00+0000")
    assert run_row(fresh) | {"path": None} == {"name": "fresh", "dataset": "digits", "impl": "scratch", "solver": "sgd",
                                               "epochs": 0, "test_acc": None, "test_loss": None,
                                               "created": "2026-11-21T10:00:00+0000", "path": None,
                                               "problem": "no epoch completed yet"}
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    (broken / "summary.json").write_text("[1, 2]")                      # JSON, but not an object
    row = run_row(broken)
    assert row["problem"] == "config.json missing or unreadable" and row["epochs"] is None
    assert [r["name"] for r in list_runs(tmp_path)] == ["broken", "fresh"]   # no date sorts first


def test_a_missing_runs_directory_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"The runs directory '.*nowhere' does not exist or is not a directory\."):
        list_runs(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        list_runs(tmp_path / "file")


def test_an_empty_runs_directory_has_no_runs(tmp_path):
    assert list_runs(tmp_path) == []
