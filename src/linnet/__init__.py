"""linnet: linear neural networks (linear and softmax regression) in PyTorch.

Where things live:
  functional.py                                  softmax, log-softmax, cross-entropy, losses, sgd: the math
  models/                                        one model, three ways: scratch, concise, fast (+ its kernel)
  data/dataset.py                                Dataset / Split: the resident splits every source ends as
  data/idx.py, data/sources.py, data/loader.py   IDX files, named datasets, minibatches
  data/paths.py, folders.py, tables.py, splits.py   --data PATH: image folders, CSV/Parquet/npz, the split
  data/synthetic.py                              y = Xw + b + noise
  schedules.py, solvers.py                       learning-rate schedules; lstsq and L-BFGS optima
  train.py, metrics.py, callbacks.py             fit / evaluate / predict; accuracy, Accumulator; callbacks
  experiment.py, runs.py, report.py              a whole run: run directory, checkpoints, report.html
  restore.py                                     a run read back: settings, model at its last checkpoint
  runlist.py                                     the runs of a runs directory (`linnet runs`), no torch needed
  plots.py, images.py                            figures (titled, shown inline in Jupyter); user images for predict
  progress.py                                    progress bars: the widget in Jupyter, text on a terminal
  tablepredict.py, tableplots.py                 predict on a table's rows; a table run's weights chart
  liveview.py                                    a figure redrawn live: in place in Jupyter, else a PNG + a line
  config.py, checks.py                           settings and their validation
  estimators.py                                  scikit-learn SoftmaxRegression / LinearRegression over models + fit
  export.py, tensorboard.py, extras.py           ONNX export; TensorBoard callback; optional packages
  cli/                                           the `linnet` command, one module per subcommand
  d2l/                                           the d2l book's chapter-3 names: `from linnet import d2l`

`import linnet` is cheap: each name below is imported from its module on first use (PEP 562), so
the command line answers `--help` without loading torch.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute there)
_EXPORTS = {
    "LivePlot": ("linnet.callbacks", "LivePlot"),
    "TrainConfig": ("linnet.config", "TrainConfig"),
    "Loader": ("linnet.data.loader", "Loader"),
    "load_data": ("linnet.data.loader", "load_data"),
    "load_data_fashion_mnist": ("linnet.data.loader", "load_data_fashion_mnist"),
    "timed_pass": ("linnet.data.loader", "timed_pass"),
    "Dataset": ("linnet.data.sources", "Dataset"),
    "load_dataset": ("linnet.data.sources", "load_dataset"),
    "synthetic_data": ("linnet.data.synthetic", "synthetic_data"),
    "LinearRegression": ("linnet.estimators", "LinearRegression"),
    "SoftmaxRegression": ("linnet.estimators", "SoftmaxRegression"),
    "ConfigError": ("linnet.errors", "ConfigError"),
    "DataError": ("linnet.errors", "DataError"),
    "DownloadError": ("linnet.errors", "DownloadError"),
    "IDXError": ("linnet.errors", "IDXError"),
    "LinnetError": ("linnet.errors", "LinnetError"),
    "NotSupported": ("linnet.errors", "NotSupported"),
    "load_run": ("linnet.restore", "load_run"),
    "list_runs": ("linnet.runlist", "list_runs"),
    "resume_run": ("linnet.experiment", "resume"),
    "start_run": ("linnet.experiment", "train"),
    "Accumulator": ("linnet.metrics", "Accumulator"),
    "accuracy": ("linnet.metrics", "accuracy"),
    "build_model": ("linnet.models", "build_model"),
    "show_images": ("linnet.plots", "show_images"),
    "TensorBoard": ("linnet.tensorboard", "TensorBoard"),
    "export_onnx": ("linnet.export", "export_run"),
    "evaluate": ("linnet.train", "evaluate"),
    "fit": ("linnet.train", "fit"),
    "predict": ("linnet.train", "predict"),
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name == "d2l":  # the book's names (linnet/d2l/), a submodule: `linnet.d2l` works after `import linnet`
        return importlib.import_module("linnet.d2l")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'linnet' has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
