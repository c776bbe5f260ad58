"""Parameter validation, declared once: what was expected and what was got, as one ConfigError.

    check_float("lr", -0.1, 0.0)  ->  The 'lr' parameter must be a float in (0, inf). Got -0.1.

No heavy imports here: the CLI validates its settings before torch is loaded.
"""
from __future__ import annotations

from linnet.errors import ConfigError


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
