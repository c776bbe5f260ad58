"""Numbers for people: the progress and summary lines of a run.

A loss can be 1e-7 (a separable set fitted exactly) or 1e30 (a diverging lr), an epoch on the digits
takes 4 ms: fixed decimals would print "0.0000", thirty digits or "0.00 s". These keep every value
short and readable.
"""
from __future__ import annotations

import math


def number(x: float, decimals: int = 4) -> str:
    """`decimals` fixed decimals for ordinary magnitudes, scientific notation for very small or large ones:
    0.2841 -> "0.2841", 3.2e-07 -> "3.200e-07", 1.5e+30 -> "1.500e+30"."""
    if x == 0 or not math.isfinite(x) or 10 ** -(decimals - 1) <= abs(x) < 1e5:
        return f"{x:.{decimals}f}"
    return f"{x:.3e}"


def seconds(s: float) -> str:
    """A duration: "4.2 ms" below a second, "3.27 s" below a minute, "2 min 05 s" beyond."""
    if s < 1:
        return f"{s * 1000:.1f} ms" if s < 0.01 else f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.2f} s"
    minutes, rest = divmod(round(s), 60)
    return f"{minutes} min {rest:02d} s"


def count(n: int, noun: str) -> str:
    """"1 epoch", "3 epochs" (regular plurals only)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
