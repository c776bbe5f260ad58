"""Parameter validation, declared once: what was expected and what was got, as one ConfigError.

    check_float("lr", -0.1, 0.0)  ->  The 'lr' parameter must be a float in (0, inf). Got -0.1.

No heavy imports here: the CLI validates its settings before torch is loaded.
"""
from __future__ import annotations

from linnet.errors import ConfigError

# Documented limits (README, "Limits"): every size a user or a file gives is bounded before anything is
# allocated by it. An image side of 1024 is 37 times Fashion-MNIST's 28, and 1024x1024 RGB inputs x 10
# classes is 31M weights. 2**26 weights (256 MiB in float32) is 8500 times Fashion-MNIST's model.
MAX_SIDE = 1024
MAX_PARAMETERS = 1 << 26


def check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"The '{name}' parameter must be an int >= {low}. Got {value!r}.")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"The '{name}' parameter must be one of {', '.join(map(str, choices))}. Got {value!r}.")


def check_float(name: str, value, low: float, high: float = float("inf"), low_open: bool = True,
                high_open: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    ok = ok and (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ConfigError(f"The '{name}' parameter must be a float in {interval}. Got {value!r}.")


def check_size(name: str, value) -> tuple[int, int] | None:
    """An image size: a positive int (square) or a pair (height, width) -> (height, width); None stays None."""
    if value is None:
        return None

    def positive_int(s) -> bool:
        return isinstance(s, int) and not isinstance(s, bool) and s >= 1

    size = (value, value) if positive_int(value) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(size) != 2 or not all(positive_int(s) for s in size):  # 2.5, True, "28": not sizes
        raise ConfigError(f"The '{name}' parameter must be a positive int or (height, width). Got {value!r}.")
    if max(size) > MAX_SIDE:
        raise ConfigError(f"The '{name}' parameter must be at most {MAX_SIDE} a side (linnet's limit on an "
                          f"image size). Got {value!r}.")
    return size


def check_parameters(num_inputs: int, num_outputs: int, where: str = "the model") -> None:
    """A model's weights, bounded before they are allocated (a hand-edited config.json, a huge --resize)."""
    if num_inputs * num_outputs > MAX_PARAMETERS:
        raise ConfigError(f"{where}: {num_inputs} inputs x {num_outputs} outputs = {num_inputs * num_outputs} "
                          f"weights, more than the {MAX_PARAMETERS} linnet allows in one model")


def check_utf8(name: str, value) -> None:
    """A name or path that linnet writes into its files (config.json, report.html) must be text:
    a byte that is not UTF-8 (surrogate-escaped by Python from argv) could never be written there."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"The '{name}' parameter must be valid UTF-8 text. "
                              f"Got {value.encode('utf-8', 'backslashreplace').decode()!r}.") from None


SEED_MAX = 2**32 - 1   # numpy and scikit-learn take seeds below 2**32; the loader's per-epoch seeds then fit 64 bits


def check_seed(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"The '{name}' parameter must be an int in [0, {SEED_MAX}]. Got {value!r}.")
