"""A run's plan: how many epochs it trains, and what a `--resume` may change on the way.

config.json holds the plan ("plan": {"epochs": 30, "changes": [{"after_epoch": 2, "set": {"lr": 0.05},
"time": ...}]}). A bare resume finishes it;
`epochs=N` adds N epochs to those completed. A setting that changes the math of the epochs still to
come either applies from the resume's epoch and is recorded as a change at that epoch (the lr, its
decay, weight decay, the epoch count), or is refused: the batch size, the implementation, the data
and the seed make the run another run, which `--resume` must not pretend to continue.

An lr change starts a new lr segment: epoch e >= k (0-based; k = the epochs completed) trains with
learning_rate(schedule, lr, e - k, ...), so `--lr 0.05` means 0.05 now, decaying from there. A
change of the decay alone keeps the lr in force at epoch k as the new segment's starting lr.
"""
from __future__ import annotations

import dataclasses
import time

from linnet.config import TrainConfig
from linnet.errors import ConfigError
from linnet.humanize import count
from linnet.schedules import learning_rate

APPLIED = ("lr", "lr_decay", "lr_step", "weight_decay")        # change the math from the resume's epoch on
LR_SETTINGS = ("lr", "lr_decay", "lr_step")                     # a change of any starts a new lr segment
FREE = ("device", "plots", "tensorboard", "mmap")               # change how the run is done, not its numbers
# everything else (model, impl, solver, dataset, data, data_dir, batch_size, resize, seed, ...) is refused


def flag(name: str) -> str:
    """The CLI flag of a TrainConfig field: lr_decay -> --lr-decay."""
    return "--" + name.replace("_", "-")


def _names(names: list[str]) -> str:
    """"'batch_size' setting (--batch-size)", or "settings 'impl' (--impl), 'seed' (--seed)" for several."""
    listed = ", ".join(f"'{n}' ({flag(n)})" for n in names)
    return f"{listed.replace(' (', ' setting (', 1)}" if len(names) == 1 else f"settings {listed}"


def new_plan(cfg: TrainConfig) -> dict:
    """The plan of a new run: its epoch count, no changes yet."""
    return {"epochs": cfg.resolved("epochs"), "changes": []}


def planned_epochs(config: dict, cfg: TrainConfig) -> int:
    """The epoch count the run is to reach; runs written before plans were recorded: their settings'."""
    plan = config.get("plan")
    return int(plan["epochs"]) if isinstance(plan, dict) and "epochs" in plan else cfg.resolved("epochs")


def lr_start(config: dict) -> int:
    """The epoch (0-based) the current lr segment starts at: that of the last lr change, else 0."""
    changes = (config.get("plan") or {}).get("changes") or []
    starts = [c["after_epoch"] for c in changes if any(k in c.get("set", {}) for k in LR_SETTINGS)]
    return starts[-1] if starts else 0


@dataclasses.dataclass(frozen=True)
class Resumption:
    """What a resume will do: its settings from here on, where it starts, where it stops."""
    cfg: TrainConfig
    done: int               # epochs completed before it
    total: int              # the epoch count it trains to
    lr_start: int           # the epoch the lr segment in force began at
    config: dict            # config.json as it is to be written (the plan with this resume's change)

    @property
    def epochs(self) -> int:
        return self.total - self.done

    def announce(self) -> str:
        return f"resuming at epoch {self.done}, training to {self.total}"


def resume_plan(run_path, config: dict, cfg: TrainConfig, done: int, epochs: int | None,
                overrides: dict) -> Resumption:
    """The plan of a resume of the run in `run_path` (config.json `config`, settings `cfg`) with `done`
    epochs completed; `epochs`: None finishes the plan, N adds N; `overrides`: TrainConfig fields given."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    changed, free, refused = {}, {}, []
    for name, value in overrides.items():
        if name not in fields:  # the Python API's keyword arguments
            raise ConfigError(f"resume() got an unknown setting {name!r}; the settings are: {', '.join(sorted(fields))}")
        if value is None or value == _current(cfg, name, value):
            continue
        if name in FREE:
            free[name] = value
        elif name in APPLIED:
            changed[name] = value
        else:
            refused.append(name)
    if refused:  # all of them in one line: the user fixes the command once
        old = ", ".join(repr(_current(cfg, n, overrides[n])) for n in refused)
        new = ", ".join(repr(overrides[n]) for n in refused)
        raise ConfigError(f"The {_names(refused)} cannot change on --resume: the run trained with {old}, got {new}. "
                          f"Start a new run for other values.")
    total = planned_epochs(config, cfg)
    if epochs is None:
        if done >= total:
            raise ConfigError(f"{run_path} is complete ({done} of {count(total, 'epoch')}); add more with --epochs N "
                              f"(Python: epochs=N)")
    else:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ConfigError(f"The 'epochs' parameter (--epochs) must be an int >= 1 on resume (epochs to add). "
                              f"Got {epochs!r}.")
        total = done + epochs
    start = lr_start(config)
    if any(k in changed for k in LR_SETTINGS):
        if "lr" not in changed:  # a new decay continues from the lr in force now
            changed["lr"] = learning_rate(cfg.lr_schedule, cfg.resolved("lr"), done - start, cfg.lr_decay or 1.0,
                                          cfg.lr_step)
        start = done
    if total != planned_epochs(config, cfg):
        changed["epochs"] = total
    kept = dataclasses.replace(cfg, **changed)   # validated by TrainConfig: an lr of -1 is refused here
    record = _recorded(config, kept, done, total, changed)
    return Resumption(dataclasses.replace(kept, **free), done, total, start, record)


def _current(cfg: TrainConfig, name: str, given):
    """The run's value of setting `name`, in the form `given` has (defaults resolved, data paths absolute)."""
    if name in ("epochs", "batch_size", "lr", "dataset") and getattr(cfg, name) is None:
        return cfg.resolved(name)
    if name == "data" and isinstance(given, str) and cfg.data is not None:
        from pathlib import Path
        return cfg.data if Path(given).expanduser().resolve() != Path(cfg.data) else given
    if name == "resize" and isinstance(given, list):
        return list(cfg.resize) if isinstance(cfg.resize, tuple) else cfg.resize
    return getattr(cfg, name)


def _recorded(config: dict, cfg: TrainConfig, done: int, total: int, changed: dict) -> dict:
    """config.json with the resume's settings in force and, when anything changed, the change at epoch `done`."""
    plan = dict(config.get("plan") or {"epochs": total, "changes": []})
    plan["epochs"] = total
    changes = list(plan.get("changes") or [])
    if changed:
        changes.append({"after_epoch": done, "set": changed, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    plan["changes"] = changes
    out = {**config, "plan": plan, "settings": dataclasses.asdict(cfg)}
    if isinstance(out.get("resolved"), dict) and "epochs" in out["resolved"]:
        out["resolved"] = {**out["resolved"], "epochs": total, "lr": cfg.resolved("lr")}
    out["lr_schedule"] = cfg.lr_schedule
    return out
