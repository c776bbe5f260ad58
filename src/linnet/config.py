"""One frozen dataclass per command; CLI flags map 1:1 onto the fields.

Validation is declared here, once (with linnet.checks), and raises ConfigError with what was
expected and what was got. Nothing here imports torch: the CLI checks settings before loading it.
"""
from __future__ import annotations

from dataclasses import dataclass

from linnet.checks import check_choice, check_float, check_int, check_seed, check_size, check_utf8
from linnet.data.sources import DATASETS
from linnet.errors import ConfigError
from linnet.threads import check_threads

MODELS = ("softmax", "linear")            # softmax regression (classification), linear regression
IMPLS = ("fast", "scratch", "concise")    # manual gradient, autograd from scratch, torch.nn
SOLVERS = ("sgd", "lbfgs")                # minibatch SGD, full-batch L-BFGS
DEVICES = ("auto", "cpu", "cuda")
CHANNELS = (1, 3)                         # image folders: grey or RGB


@dataclass(frozen=True)
class DataConfig:
    dataset: str | None = "fashion-mnist"  # None only with data
    data_dir: str | None = None  # None: $LINNET_DATA/<dataset>, else the per-user cache
    batch_size: int = 256         # the chapter's batch size, for the timed pass
    resize: int | None = None     # None keeps the native 28x28 (8x8 for digits)
    grid: str | None = None       # PNG path for the 2 x 9 grid of training images
    seed: int = 0
    data: str | None = None       # your own data (see TrainConfig.data); the four below as there
    label: str | None = None
    channels: int = 1
    test_fraction: float = 0.2

    def __post_init__(self) -> None:
        if self.data is not None:
            if self.dataset not in (None, DataConfig.dataset):
                raise ConfigError(f"Give --dataset or --data, not both. Got {self.dataset!r} and {self.data!r}.")
            check_choice("channels", self.channels, CHANNELS)
            check_float("test_fraction", self.test_fraction, 0.0, 1.0)
        else:
            check_choice("dataset", self.dataset, DATASETS)
        check_int("batch_size", self.batch_size, 1)
        if self.resize is not None:
            check_int("resize", self.resize, 1)
            check_size("resize", self.resize)
        check_seed("seed", self.seed)


# Defaults that depend on the dataset. The image sets follow the chapter (batch 256, lr 0.1, 10 epochs);
# digits has 1437 training images, so batch 256 would give 6 steps an epoch: 16 gives 90, and 20 epochs
# reach the plateau of a linear model there. synthetic is the chapter's linear-regression run.
DATASET_DEFAULTS = {
    "fashion-mnist": dict(batch_size=256, lr=0.1, epochs=10),
    "mnist": dict(batch_size=256, lr=0.1, epochs=10),
    "digits": dict(batch_size=16, lr=0.1, epochs=20),
    "synthetic": dict(batch_size=10, lr=0.03, epochs=3),
}
TRAIN_DATASETS = tuple(DATASET_DEFAULTS)
# --data PATH (your own data), by model. Image folders and tables are usually small: batches of 64 (16 for regression) give
# many steps an epoch; standardised table features let softmax take lr 0.1; linear regression's
# squared loss grows with the targets' scale, hence the chapter's gentler 0.03.
DATA_DEFAULTS = {
    "softmax": dict(batch_size=64, lr=0.1, epochs=20),
    "linear": dict(batch_size=16, lr=0.03, epochs=20),
}


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; saved as config.json. None means: the dataset's default."""
    model: str = "softmax"            # softmax regression (classification) or linear regression
    impl: str = "fast"                # fast: manual gradient; scratch: autograd; concise: torch.nn
    solver: str = "sgd"               # sgd: minibatch SGD; lbfgs: full-batch convex optimum
    dataset: str | None = None        # None: fashion-mnist for softmax, synthetic for linear
    data_dir: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    lr_decay: float | None = None     # gamma: lr * gamma^epoch (or per lr_step epochs); None keeps lr constant
    lr_step: int = 1                  # decay every lr_step epochs (1: exponential decay per epoch)
    weight_decay: float = 0.0         # L2 penalty on the weights (not the bias)
    seed: int = 0                     # initial weights and the shuffling of every epoch
    resize: int | tuple[int, int] | None = None  # H or (H, W); for --data folders: the decoded size
    data: str | None = None           # your own data: an image folder, a CSV / Parquet table or an .npz
    label: str | None = None          # a table's label column; None: the last column
    channels: int = 1                 # image folders: 1 grey (fewer weights, weights shown as images), 3 RGB
    test_fraction: float = 0.2        # --data without a test part: share held out (per class), seeded by seed
    mmap: bool = False                # map uncompressed IDX files instead of reading them: sets larger than memory
    device: str = "auto"              # auto: a GPU when torch sees one, else the CPU
    plots: bool = True                # False (--no-plots): no figures, for sweeps; the report has the tables
    runs_dir: str = "runs"
    name: str | None = None           # None: <model>-<dataset>-<timestamp>
    tensorboard: str | None = None    # None: off; "": into <run dir>/tensorboard; a DIR: into DIR/<run name>
    threads: int | None = None        # None: measured (1 or all; OMP_NUM_THREADS fixes it); N: exactly N (linnet.threads)

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODELS)
        check_choice("impl", self.impl, IMPLS)
        check_choice("solver", self.solver, SOLVERS)
        if self.dataset is not None:
            check_choice("dataset", self.dataset, TRAIN_DATASETS)
        if self.data is not None:
            self._check_data()
        elif self.label is not None:
            raise ConfigError("The 'label' parameter names a table's column; it needs --data TABLE.")
        dataset = self.resolved("dataset")
        if self.data is None and (self.model == "linear") != (dataset == "synthetic"):
            raise ConfigError(f"The 'model' {self.model!r} does not fit the dataset {dataset!r}: "
                              "linear regression trains on 'synthetic', softmax regression on image datasets.")
        if self.solver == "lbfgs" and self.model != "softmax":
            raise ConfigError("The 'solver' lbfgs is for softmax regression; linear regression has lstsq in linnet.solvers.")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)
        if self.lr is not None:
            check_float("lr", self.lr, 0.0)
        if self.lr_decay is not None:
            check_float("lr_decay", self.lr_decay, 0.0, 1.0, high_open=False)  # 1: no decay
        check_int("lr_step", self.lr_step, 1)
        check_float("weight_decay", self.weight_decay, 0.0, low_open=False)
        check_seed("seed", self.seed)
        if isinstance(self.resize, list):  # read back from config.json
            object.__setattr__(self, "resize", tuple(self.resize))
        if self.resize is not None and not isinstance(self.resize, tuple):
            check_int("resize", self.resize, 1)
        check_size("resize", self.resize)  # a pair, and at most MAX_SIDE a side
        check_choice("device", self.device, DEVICES)
        check_threads(self.threads)
        if self.tensorboard is not None and not isinstance(self.tensorboard, str):
            raise ConfigError(f"The 'tensorboard' parameter must be a directory (str) or None. "
                              f"Got {self.tensorboard!r}.")
        for name in ("name", "runs_dir", "data_dir", "data", "tensorboard"):   # written into the run's files
            check_utf8(name, getattr(self, name))
        if self.name is not None and (not self.name or "/" in self.name or self.name in (".", "..")):
            raise ConfigError(f"The 'name' parameter must be a plain directory name. Got {self.name!r}.")

    def _check_data(self) -> None:
        if not isinstance(self.data, str) or not self.data:
            raise ConfigError(f"The 'data' parameter must be a path. Got {self.data!r}.")
        if self.dataset is not None:
            raise ConfigError(f"Give --dataset or --data, not both. Got {self.dataset!r} and {self.data!r}.")
        if self.mmap:
            raise ConfigError("The 'mmap' option maps IDX files (fashion-mnist, mnist); --data is read into memory.")
        check_choice("channels", self.channels, CHANNELS)
        check_float("test_fraction", self.test_fraction, 0.0, 1.0)

    def resolved(self, field: str):
        """The value in force: the field if set, else the dataset's default."""
        value = getattr(self, field)
        if value is not None:
            return value
        if field == "dataset":
            if self.data is not None:
                return self.data
            return "synthetic" if self.model == "linear" else "fashion-mnist"
        if self.data is not None:
            return DATA_DEFAULTS[self.model][field]
        return DATASET_DEFAULTS[self.resolved("dataset")][field]

    @property
    def lr_schedule(self) -> str:
        if self.lr_decay is None:
            return "constant"
        return "exponential" if self.lr_step == 1 else "step"
