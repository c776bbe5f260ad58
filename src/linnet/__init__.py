"""linnet: linear neural networks (linear and softmax regression) in PyTorch.

The chapter's pieces, each in its own module:
  data/idx.py, data/sources.py, data/loader.py   IDX files, named datasets, minibatches
  data/synthetic.py                              y = Xw + b + noise
  plots.py                                       image grids and figures
  cli.py                                         the `linnet` command
"""
from linnet.data.loader import Loader, load_data, load_data_fashion_mnist, timed_pass
from linnet.data.sources import Dataset, load_dataset
from linnet.data.synthetic import synthetic_data
from linnet.errors import ConfigError, DataError, DownloadError, IDXError, LinnetError

__version__ = "0.1.0"
__all__ = ["Loader", "load_data", "load_data_fashion_mnist", "timed_pass", "Dataset", "load_dataset",
           "synthetic_data", "ConfigError", "DataError", "DownloadError", "IDXError", "LinnetError"]
