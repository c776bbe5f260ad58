"""One frozen dataclass per command; CLI flags map 1:1 onto the fields.

Validation is declared here, once, and raises ConfigError with what was expected and what was got.
"""
from __future__ import annotations

from dataclasses import dataclass

from linnet.data.sources import DATASETS
from linnet.errors import ConfigError


def check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"The '{name}' parameter must be an int >= {low}. Got {value!r}.")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"The '{name}' parameter must be one of {', '.join(map(str, choices))}. Got {value!r}.")


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion-mnist"
    data_dir: str | None = None  # None: $LINNET_DATA/<dataset>, else the per-user cache
    batch_size: int = 256         # the chapter's batch size, for the timed pass
    resize: int | None = None     # None keeps the native 28x28 (8x8 for digits)
    grid: str | None = None       # PNG path for the 2 x 9 grid of training images
    seed: int = 0

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        check_int("batch_size", self.batch_size, 1)
        if self.resize is not None:
            check_int("resize", self.resize, 1)
        check_int("seed", self.seed, 0)
