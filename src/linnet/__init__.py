"""linnet: linear neural networks (linear and softmax regression) in PyTorch.

Where things live:
  data/idx.py, data/sources.py, data/loader.py   IDX files, named datasets, minibatches
  data/synthetic.py                              y = Xw + b + noise
  scratch.py, concise.py, fast.py                the models three ways (autograd, torch.nn, manual gradient)
  kernel.py, _kernel.c                           fast.py's compiled inner loop (optional build, ctypes)
  models.py                                      the common model interface and build_model
  schedules.py, solvers.py                       learning-rate schedules; lstsq and L-BFGS optima
  train.py, metrics.py, callbacks.py             fit / evaluate / predict; accuracy, Accumulator; callbacks
  experiment.py, runs.py, report.py              a whole run: run directory, checkpoints, report.html
  plots.py, images.py                            figures; user images for predict
  cli.py                                         the `linnet` command
"""
from linnet.callbacks import LivePlot
from linnet.config import TrainConfig
from linnet.data.loader import Loader, load_data, load_data_fashion_mnist, timed_pass
from linnet.data.sources import Dataset, load_dataset
from linnet.data.synthetic import synthetic_data
from linnet.errors import ConfigError, DataError, DownloadError, IDXError, LinnetError
from linnet.experiment import load_run
from linnet.experiment import resume as resume_run
from linnet.experiment import train as start_run
from linnet.metrics import Accumulator, accuracy
from linnet.models import build_model
from linnet.train import evaluate, fit, predict

__version__ = "0.1.0"
__all__ = ["LivePlot", "TrainConfig", "Loader", "load_data", "load_data_fashion_mnist", "timed_pass", "Dataset",
           "load_dataset", "synthetic_data", "ConfigError", "DataError", "DownloadError", "IDXError",
           "LinnetError", "load_run", "resume_run", "start_run", "Accumulator", "accuracy", "build_model",
           "show_images", "evaluate", "fit", "predict"]


def __getattr__(name: str):
    """show_images is imported on first use: matplotlib costs ~0.5 s of import time."""
    if name == "show_images":
        from linnet.plots import show_images
        return show_images
    raise AttributeError(f"module 'linnet' has no attribute {name!r}")
