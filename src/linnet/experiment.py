"""A whole training run: config -> data -> model -> fit -> run directory with plots and report.

`train(config)` starts a run; `resume(run_dir, epochs)` continues one from its last checkpoint.
Both return a `RunResult`. The CLI and the Python API call these; the fit loop lives in train.py.
"""
from __future__ import annotations

import dataclasses
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from linnet.callbacks import ConsoleProgress, LivePlot, RunRecorder, in_notebook
from linnet.config import TrainConfig
from linnet.data.dataset import Dataset
from linnet.data.synthetic import TRUE_B, TRUE_W
from linnet.errors import ConfigError, RunInterrupted, TrainingDiverged
from linnet.models import build_model
from linnet.plan import new_plan, resume_plan
from linnet.restore import read_config, resolve_device, restore_model
from linnet.rundata import input_hw, load_for, loaders_for, num_inputs  # load_for, loaders_for: used from here too
from linnet.collector import gc_paused
from linnet.runfigures import draw_final_figures
from linnet.runs import RunDir
from linnet.solverrun import overfit_warning
from linnet.threads import describe as threads_described, fixed_threads
from linnet.train import EpochRecord, fit


def _interruptible(cfg, run: RunDir, model, ds, device, fit_fn, total: int):
    """Run fit_fn; a run stopped early (Ctrl-C, SIGTERM, divergence) still gets the metrics, summary,
    figures and report of the epochs it completed, and says where it stopped in words."""
    try:
        return fit_fn()
    except KeyboardInterrupt as exc:
        completed = _finish_stopped(cfg, run, model, ds, device)
        raise RunInterrupted(run.path, completed, type(exc).__name__, total, cfg.solver != "lbfgs") from None
    except TrainingDiverged as exc:
        completed = _finish_stopped(cfg, run, model, ds, device)
        raise TrainingDiverged(f"{exc} Stopped after epoch {completed} of {total}; {run.path} keeps "
                               f"{'it' if completed == 1 else 'them'} (figures and report).") from None


def _finish_stopped(cfg, run: RunDir, model, ds, device) -> int:
    """The files of a stopped run, from its last checkpoint (the model in memory may be mid-epoch or
    diverged); returns the number of epochs completed."""
    state, history, _ = run.load_checkpoint()   # also writes back a metrics.csv row its checkpoint has (metricslog)
    if history:
        model.load_state_dict(state)
        _finish(cfg, run, model, ds, history, device, None)
    return len(history)


@dataclass
class RunResult:
    run_dir: Path
    history: list[EpochRecord]
    summary: dict
    model: object
    dataset: Dataset


def _summary(cfg: TrainConfig, history) -> dict:
    last = history[-1]
    return {"train_loss": last.train_loss, "train_acc": last.train_acc, "test_loss": last.test_loss,
            "test_acc": last.test_acc, "epochs": len(history),
            "train_seconds": round(sum(r.seconds for r in history), 4),
            "dataset": cfg.resolved("dataset"), "model": cfg.model, "impl": cfg.impl, "solver": cfg.solver,
            **({"warnings": [w]} if (w := overfit_warning(cfg, last)) else {})}


def _config_json(cfg: TrainConfig, ds: Dataset, device: torch.device) -> dict:
    import linnet
    from linnet.models import kernel
    if cfg.solver == "lbfgs":   # full batch, one solve: SGD's batch size, lr and epochs play no part
        from linnet.solvers import TRAINING_LBFGS
        resolved = {"dataset": cfg.resolved("dataset"), "solver": {"name": "lbfgs", **TRAINING_LBFGS}}
    else:
        resolved = {f: cfg.resolved(f) for f in ("dataset", "epochs", "batch_size", "lr")}
    return {"settings": dataclasses.asdict(cfg), "resolved": resolved, "lr_schedule": cfg.lr_schedule,
            "threads": threads_described(cfg.threads),
            "device": str(device), "dataset": {"name": ds.name, "train": len(ds.train), "test": len(ds.test),
                                               "classes": list(ds.classes),
                                               "input_hw": input_hw(cfg, ds), "num_inputs": num_inputs(cfg, ds),
                                               "channels": ds.image_shape[0] if ds.is_images else None,
                                               "features": list(ds.features), "standardise": ds.stats,
                                               "notes": list(ds.notes)},
            **({} if cfg.solver == "lbfgs" else {"plan": new_plan(cfg)}),
            "versions": {"linnet": linnet.__version__, "torch": torch.__version__,
                         "python": platform.python_version(), "fast kernel": kernel.describe()},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "argv": list(sys.argv)}   # the command line (or the script, the kernel) that started the run


def _meta(cfg: TrainConfig, ds: Dataset) -> dict:
    """What the checkpoint carries beside the weights: a table's standardisation goes with its model."""
    return {"model": cfg.model, "impl": cfg.impl, **({"stats": ds.stats} if ds.stats else {})}


def tensorboard_dir(cfg: TrainConfig, run_path: Path) -> Path | None:
    """Where the run logs for TensorBoard: None (off), RUN_DIR/tensorboard, or DIR/<run name>."""
    if cfg.tensorboard is None:
        return None
    return run_path / "tensorboard" if cfg.tensorboard == "" else Path(cfg.tensorboard).expanduser() / run_path.name


def _callbacks(cfg, run, ds, total_epochs, extra, quiet):
    notebook = in_notebook()
    cbs = [] if quiet else [ConsoleProgress(total_epochs)]
    cbs.append(RunRecorder(run, _meta(cfg, ds), lambda h: _summary(cfg, h),
                           min_interval=RunRecorder.min_interval if cfg.plots else None, draw_at_end=False))
    if notebook and not quiet:   # quiet: nothing drawn or printed in the notebook either
        cbs.append(LivePlot())
    if cfg.tensorboard is not None:
        from linnet.tensorboard import TensorBoard
        cbs.append(TensorBoard(tensorboard_dir(cfg, run.path), input_hw(cfg, ds), ds.classes))
    return cbs + list(extra)


def _check_extras(cfg: TrainConfig) -> None:
    """Optional packages the settings need, checked before anything is written."""
    if cfg.tensorboard is not None:
        from linnet.tensorboard import make_log_dir, require_tensorboard
        require_tensorboard()
        if cfg.tensorboard:   # a DIR of the user's: a file there, or no permission, stops us now
            make_log_dir(Path(cfg.tensorboard).expanduser())


def _fit(cfg, model, ds, device, run, start_epoch, history, epochs, callbacks, quiet, parallel=None, lr_start=0):
    """`parallel` (linnet.distributed): rank 0 passes its run, the other ranks None (no callbacks).
    `lr_start`: the epoch the lr schedule counts from (linnet.plan)."""
    train_iter, test_iter = loaders_for(cfg, ds)
    if cfg.solver == "lbfgs":
        from linnet.solverrun import fit_lbfgs
        return fit_lbfgs(cfg, model, ds, train_iter, test_iter, device, _callbacks(cfg, run, ds, 1, callbacks, quiet),
                         quiet)
    if parallel is not None and run is not None:
        parallel.lead(run.path, cfg, ds, start_epoch, epochs, model, lr_start)
    fit_threads = fixed_threads(cfg.threads)(fit)   # --threads N: N threads for the whole fit, restored after
    return fit_threads(model, train_iter, test_iter, epochs, cfg.resolved("lr"), lr_schedule=cfg.lr_schedule,
               lr_gamma=cfg.lr_decay or 1.0, lr_step=cfg.lr_step, weight_decay=cfg.weight_decay,
               start_epoch=start_epoch, history=history, lr_start=lr_start, device=device, parallel=parallel,
               callbacks=_callbacks(cfg, run, ds, start_epoch + epochs, callbacks, quiet) if run is not None else ())


Announce = Callable[[dict, Path], None]   # (summary, run directory): told before the figures are drawn


def train(cfg: TrainConfig, callbacks=(), quiet: bool = False, announce: Announce | None = None,
          parallel=None) -> RunResult:
    """Start a new run in runs_dir/name and train it; every epoch is checkpointed.

    `announce(summary, run_dir)` is called once training is done, before the figures and the report
    are drawn (the CLI prints its final line there: the result shows without waiting for matplotlib).
    `parallel`: rank 0 of a data-parallel run (linnet.distributed); the other ranks run `follow`.
    """
    _check_extras(cfg)
    if cfg.data is not None:  # config.json records where the data are, valid from any directory
        cfg = dataclasses.replace(cfg, data=str(Path(cfg.data).expanduser().resolve()))
    ds = load_for(cfg)
    if not quiet:
        for note in ds.notes:
            print(f"note: {note}", file=sys.stderr)
        if cfg.solver == "sgd" and cfg.resolved("batch_size") > len(ds.train):  # linnet.data.loader clamps it
            print(f"note: --batch-size {cfg.resolved('batch_size')} is more than the {len(ds.train)} training "
                  "samples: each step takes the whole training set", file=sys.stderr)
    device = resolve_device(cfg.device)
    g = torch.Generator().manual_seed(cfg.seed)
    model = build_model(cfg.model, cfg.impl, num_inputs(cfg, ds), len(ds.classes) or 1, generator=g, device=device)
    config_json = _config_json(cfg, ds, device)   # everything settled before the run directory exists
    run = (RunDir.create(cfg.runs_dir, cfg.name) if cfg.name else
           RunDir.create(cfg.runs_dir, f"{cfg.model}-{ds.name}-{time.strftime('%Y%m%d-%H%M%S')}", unique=True))
    try:
        with run:
            run.write_json("config.json", config_json)
            run.save_checkpoint(model.state_dict(), [], _meta(cfg, ds))  # epoch 0: from here on it is a run
            total = 1 if cfg.solver == "lbfgs" else cfg.resolved("epochs")
            history = _interruptible(cfg, run, model, ds, device, lambda: _fit(cfg, model, ds, device, run, 0, [],
                                                                               total, callbacks, quiet, parallel), total)
            return _finish(cfg, run, model, ds, history, device, announce)
    except BaseException:
        run.discard_unstarted()  # stopped before its first checkpoint (a signal, a full disk): no run, no name taken
        raise


def resume(run_dir, epochs: int | None = None, callbacks=(), quiet: bool = False, announce: Announce | None = None,
           parallel=None, **overrides) -> RunResult:
    """Continue a run from its last checkpoint: to its planned epoch count (epochs=None), or `epochs`
    more than it has completed. `overrides` (TrainConfig fields): the lr, its decay and weight decay
    apply from this epoch on and are recorded in config.json; device, plots, tensorboard and mmap
    apply; any other setting that differs from the run's is refused (linnet.plan).
    A run directory that never reached its first checkpoint (stopped while starting) starts over."""
    run = RunDir.open(run_dir)
    if run.unstarted():
        cfg = read_config(run, **overrides)
        more = {"epochs": epochs} if epochs is not None else {}
        return train(dataclasses.replace(cfg, runs_dir=str(run.path.parent), name=run.path.name, **more),
                     callbacks, quiet, announce, parallel)
    cfg = read_config(run)   # config.json checked field by field first (linnet.runschema)
    config = run.read_json("config.json")
    if cfg.solver == "lbfgs":
        raise ConfigError(f"{run.path} was solved by L-BFGS to the optimum; there is nothing to continue")
    with run:
        state, history, meta = run.load_checkpoint()
        plan = resume_plan(run.path, config, cfg, len(history), epochs, overrides)
        cfg = plan.cfg
        _check_extras(cfg)
        ds = load_for(cfg, meta.get("stats"))
        device = resolve_device(cfg.device)
        model = restore_model(run, cfg, num_inputs(cfg, ds), len(ds.classes) or 1, state, device)
        if "rng_state" in meta:
            torch.set_rng_state(meta["rng_state"])
        run.write_json("config.json", plan.config)
        if not quiet:
            print(plan.announce(), flush=True)
        done = history
        history = _interruptible(cfg, run, model, ds, device,
                                 lambda: _fit(cfg, model, ds, device, run, plan.done, done, plan.epochs,
                                              callbacks, quiet, parallel, plan.lr_start), plan.total)
        return _finish(cfg, run, model, ds, history, device, announce)


def _finish(cfg, run, model, ds, history, device, announce: Announce | None) -> RunResult:
    """Summary (for linear regression with the errors in w and b), then the figures and the report."""
    from linnet.metrics import confusion_matrix, per_class_table
    from linnet.report import write_report
    from linnet.train import predict_all
    summary, preds, matrix = _summary(cfg, history), None, None
    if model.kind == "linear" and cfg.data is not None:  # a table's target: the error in its own units
        summary["test_rmse"] = (2 * history[-1].test_loss) ** 0.5                 # loss = 1/2 r^2
    elif model.kind == "linear":
        state = model.state_dict()
        summary["w_error"] = (torch.tensor(TRUE_W) - state["w"].reshape(-1).cpu()).tolist()
        summary["b_error"] = TRUE_B - float(state["b"].reshape(-1)[0])
    else:
        _, test_iter = loaders_for(cfg, ds)
        preds = predict_all(model, test_iter, device)
        matrix = confusion_matrix(ds.test.labels, preds, len(ds.classes))
        summary["per_class_acc"] = per_class_table(ds.classes, matrix)
    run.write_json("summary.json", summary)
    if announce is not None:
        announce(summary, run.path)
    # the collector stays paused through the report: the figures' 10^5 objects, left in generation 0,
    # would cost the report's first allocation a collection (~0.04 s); a `linnet train` process ends first
    with gc_paused():
        if cfg.plots:
            draw_final_figures(cfg, run.path, model, ds, history, preds, matrix)
        write_report(run.path)
    return RunResult(run.path, history, summary, model, ds)

