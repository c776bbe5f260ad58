"""A run brought back from its directory: its settings (config.json) and its model at the last
checkpoint, on the device asked for. `linnet evaluate`, `predict`, `export` and `--resume` start here.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from linnet.checks import check_parameters
from linnet.config import TrainConfig
from linnet.errors import ConfigError
from linnet.models import build_model
from linnet.runs import CHECKPOINT, RunDir
from linnet.runschema import read_run_config
from linnet.train import EpochRecord


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("The 'device' cuda was asked for, but torch sees no GPU; use --device cpu or auto.")
    return torch.device(name)


@dataclass
class LoadedRun:
    """A trained run read back from its directory: settings, model at its last checkpoint, class names."""
    run_dir: Path
    config: TrainConfig
    model: object
    classes: tuple[str, ...]
    input_hw: tuple[int, int] | None
    history: list[EpochRecord]
    channels: int | None = None           # images: 1 or 3; None for feature vectors
    features: tuple[str, ...] = ()        # a table's feature columns, in the model's order
    stats: dict | None = None             # their standardisation (from the checkpoint); None: not standardised


def read_config(run: RunDir, **overrides) -> TrainConfig:
    """The run's settings (config.json, checked field by field: linnet.runschema), with `overrides`."""
    cfg, _ = read_run_config(run.path)
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def restore_model(run: RunDir, cfg: TrainConfig, num_inputs: int, num_outputs: int, state, device):
    """The run's model with the checkpoint's weights; a mismatch names the checkpoint file."""
    model = build_model(cfg.model, cfg.impl, num_inputs, num_outputs, device=device)
    try:
        model.load_state_dict(state)
    except ConfigError as exc:
        raise ConfigError(f"{run.path / CHECKPOINT}: {exc}") from None
    return model


def load_run(run_dir, device: str = "cpu") -> LoadedRun:
    """The model of a run directory at its last checkpoint (for evaluate and predict)."""
    run = RunDir.open(run_dir)
    cfg, info = read_run_config(run.path)
    state, history, meta = run.load_checkpoint()
    num_inputs = info["num_inputs"]
    classes = tuple(info["classes"])
    check_parameters(num_inputs, len(classes) or 1, str(run.path / "config.json"))  # before allocating them
    weights = sum(t.numel() for t in state.values())
    if num_inputs * max(len(classes), 1) > weights:  # checked before a model of that size is allocated
        raise ConfigError(f"{run.path / 'config.json'}: 'dataset.num_inputs' {num_inputs} x {max(len(classes), 1)} "
                          f"outputs needs more weights than the checkpoint holds ({weights}); it was edited")
    model = restore_model(run, cfg, num_inputs, len(classes) or 1, state, resolve_device(device))
    hw = info.get("input_hw")
    return LoadedRun(run.path, cfg, model, classes, tuple(hw) if hw else None, history,
                     info.get("channels") or (1 if hw else None), tuple(info.get("features") or ()), meta.get("stats"))
