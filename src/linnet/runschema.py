"""config.json of a run directory, validated in one place before anything uses it.

config.json is a plain file a user can edit or damage (`[]`, `"dataset": null`, "0.1" where a number
goes, nesting a thousand deep). Every reader of a run (evaluate, predict, export, --resume) goes
through `read_run_config`, so a bad file is one ConfigError naming it and the field, never a
traceback in whatever code first touches the value. The settings' kinds are those TrainConfig
declares (its annotations), their ranges TrainConfig's own checks; the `dataset` section is described
here. No heavy imports.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from linnet.config import CHANNELS, TrainConfig
from linnet.errors import ConfigError

_KINDS = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "None": (type(None),),
          "tuple[int, int]": (list, tuple)}
SETTINGS = {f.name: tuple(k for part in f.type.split("|") for k in _KINDS[part.strip()])
            for f in dataclasses.fields(TrainConfig)}


def _kind_ok(value, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in kinds:   # True is an int to Python, not to a config
        return False
    if isinstance(value, (list, tuple)):
        return list in kinds and len(value) == 2 and all(_kind_ok(v, (int,)) for v in value)
    return isinstance(value, kinds)


def _names(kinds: tuple[type, ...]) -> str:
    names = {str: "text", int: "an int", float: "a number", bool: "true/false", type(None): "null",
             list: "[height, width]", tuple: ""}
    shown = [k for k in kinds if names[k] and not (k is int and float in kinds)]   # a float takes ints too
    return " or ".join(dict.fromkeys(names[k] for k in shown))


def _is_int(value, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _list_of_text(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


# the `dataset` section: field -> (check, what it must be)
DATASET = {
    "name": (lambda v: isinstance(v, str), "text"),
    "train": (_is_int, "an int >= 0"),
    "test": (_is_int, "an int >= 0"),
    "classes": (_list_of_text, "a list of class names"),
    "input_hw": (lambda v: v is None or (isinstance(v, list) and len(v) == 2 and all(_is_int(x, 1) for x in v)),
                 "null or [height, width]"),
    "num_inputs": (lambda v: _is_int(v, 1), "an int >= 1"),
    "channels": (lambda v: v is None or (_is_int(v) and v in CHANNELS), "null, 1 or 3"),
    "features": (_list_of_text, "a list of column names"),
    "notes": (_list_of_text, "a list of lines"),
    "standardise": (lambda v: v is None or isinstance(v, dict), "null or an object"),
}
REQUIRED = ("name", "classes", "num_inputs")


def read_run_config(run_dir: str | Path) -> tuple[TrainConfig, dict]:
    """(settings, dataset section) of RUN_DIR/config.json, every field checked."""
    path = Path(run_dir) / "config.json"
    where = str(path)
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, RecursionError) as exc:   # RecursionError: nesting deeper than the parser goes
        raise ConfigError(f"{where}: not JSON ({str(exc)[:80] or type(exc).__name__})") from None
    return parse_run_config(doc, where)


def parse_run_config(doc, where: str) -> tuple[TrainConfig, dict]:
    """The checks of read_run_config on an already parsed document (`where` names it in messages)."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a JSON object, got {type(doc).__name__}")
    settings, dataset = doc.get("settings"), doc.get("dataset")
    if not isinstance(settings, dict):
        raise ConfigError(f"{where}: 'settings' must be an object, got {_short(settings)}")
    if not isinstance(dataset, dict):
        raise ConfigError(f"{where}: 'dataset' must be an object, got {_short(dataset)}")
    for key, value in settings.items():
        if key not in SETTINGS:
            raise ConfigError(f"{where}: unknown setting {_short(key)} (not a setting of this linnet)")
        if not _kind_ok(value, SETTINGS[key]):
            raise ConfigError(f"{where}: setting '{key}' must be {_names(SETTINGS[key])}, got {_short(value)}")
    for key in REQUIRED:
        if key not in dataset:
            raise ConfigError(f"{where}: 'dataset' has no '{key}'")
    for key, value in dataset.items():
        check, what = DATASET.get(key, (None, None))
        if check is not None and not check(value):
            raise ConfigError(f"{where}: 'dataset.{key}' must be {what}, got {_short(value)}")
    try:
        cfg = TrainConfig(**settings)   # ranges and choices: TrainConfig's own checks
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return cfg, dataset


def _short(value) -> str:
    """A value for a one-line message: its JSON, cut at 60 characters."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."
