"""The runs in a runs directory, read from their config.json and summary.json (no torch needed).

`linnet runs` prints them as a table; `list_runs` gives the same rows to Python. A run still
training, interrupted before its first epoch, or with an unreadable file is listed too, with what
could be read: the listing is where a user looks for such runs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from linnet.errors import ConfigError

COLUMNS = ("name", "dataset", "impl", "epochs", "test_acc", "test_loss", "created")


def _read(path: Path) -> dict:
    """A JSON object, or {} when it is missing or unreadable (the row says so in its 'problem')."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def run_row(run_dir: Path) -> dict:
    """One run as a row: name, dataset, impl, epochs, test acc/loss, created; 'problem' when a file is unreadable."""
    config, summary = _read(run_dir / "config.json"), _read(run_dir / "summary.json")
    settings = config.get("settings") if isinstance(config.get("settings"), dict) else {}
    dataset = config.get("dataset") if isinstance(config.get("dataset"), dict) else {}
    row = {"name": run_dir.name,
           "dataset": summary.get("dataset") or dataset.get("name"),
           "impl": summary.get("impl") or settings.get("impl"),
           "solver": summary.get("solver") or settings.get("solver"),
           "epochs": summary.get("epochs", 0 if config else None),
           "test_acc": summary.get("test_acc"),
           "test_loss": summary.get("test_loss"),
           "created": config.get("created"),
           "path": str(run_dir)}
    if not config:
        row["problem"] = "config.json missing or unreadable"
    elif not summary:
        row["problem"] = "no epoch completed yet"
    return row


def list_runs(runs_dir: str | os.PathLike = "runs") -> list[dict]:
    """Every run directory (one holding config.json or a checkpoint) under `runs_dir`, oldest first."""
    root = Path(runs_dir).expanduser()
    if not root.is_dir():
        raise ConfigError(f"The runs directory {str(root)!r} does not exist or is not a directory.")
    rows = [run_row(d) for d in root.iterdir()
            if d.is_dir() and ((d / "config.json").exists() or (d / "checkpoint.safetensors").exists())]
    return sorted(rows, key=lambda r: (r["created"] or "", r["name"]))
