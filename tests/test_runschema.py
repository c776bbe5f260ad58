"""linnet.runschema: config.json checked field by field against TrainConfig and the dataset section."""
from __future__ import annotations

import json

import pytest

from linnet.errors import ConfigError
from linnet.runschema import SETTINGS, parse_run_config, read_run_config

GOOD = {"settings": {"dataset": "digits", "epochs": 2, "lr": 0.1, "resize": [8, 8], "name": "r"},
        "dataset": {"name": "digits", "classes": list("0123456789"), "num_inputs": 64, "input_hw": [8, 8],
                    "channels": 1, "features": [], "notes": [], "standardise": None, "train": 1, "test": 1}}


def edited(section, key, value) -> dict:
    doc = json.loads(json.dumps(GOOD))
    doc[section][key] = value
    return doc


def test_a_good_config_reads_back():
    cfg, dataset = parse_run_config(GOOD, "c.json")
    assert cfg.epochs == 2 and cfg.resize == (8, 8) and dataset["num_inputs"] == 64


def test_the_kinds_come_from_train_config():
    assert SETTINGS["lr"] == (int, float, type(None)) and SETTINGS["plots"] == (bool,)
    assert SETTINGS["resize"] == (int, list, tuple, type(None))


@pytest.mark.parametrize("doc, match", [
    ([], r"c.json: must be a JSON object, got list"),
    ({"dataset": {}}, r"'settings' must be an object, got null"),
    (edited("settings", "lr", "0.1"), r"setting 'lr' must be a number or null, got \"0.1\""),
    (edited("settings", "plots", 1), r"setting 'plots' must be true/false, got 1"),
    (edited("settings", "seed", True), r"setting 'seed' must be an int, got true"),
    (edited("settings", "resize", [8]), r"setting 'resize' must be an int or \[height, width\] or null"),
    (edited("settings", "nope", 1), r"unknown setting \"nope\""),
    (edited("settings", "lr", -1), r"c.json: The 'lr' parameter must be a float in \(0, inf\). Got -1."),
    (edited("dataset", "num_inputs", 0), r"'dataset.num_inputs' must be an int >= 1, got 0"),
    (edited("dataset", "classes", [1, 2]), r"'dataset.classes' must be a list of class names"),
    (edited("dataset", "standardise", []), r"'dataset.standardise' must be null or an object"),
    (edited("dataset", "name", "x" * 200), None),
])
def test_bad_fields_are_one_config_error(doc, match):
    if match is None:
        parse_run_config(doc, "c.json")   # a long name is fine: only kinds and ranges are checked
        return
    with pytest.raises(ConfigError, match=match):
        parse_run_config(doc, "c.json")


def test_missing_dataset_fields():
    doc = json.loads(json.dumps(GOOD))
    del doc["dataset"]["num_inputs"]
    with pytest.raises(ConfigError, match=r"'dataset' has no 'num_inputs'"):
        parse_run_config(doc, "c.json")


@pytest.mark.parametrize("data", [b"[" * 100_000, b"\xff", b""])
def test_read_run_config_of_a_file_that_is_not_json(tmp_path, data):
    (tmp_path / "config.json").write_bytes(data)
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'config.json'}: not JSON"):
        read_run_config(tmp_path)
