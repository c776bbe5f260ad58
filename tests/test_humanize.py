"""Numbers for people: losses, durations, counts in the progress and summary lines."""
import pytest

from linnet.humanize import count, number, seconds


@pytest.mark.parametrize("x, text", [(0.28414, "0.2841"), (0.0, "0.0000"), (12.5, "12.5000"), (-3.25, "-3.2500"),
                                     (3.2e-07, "3.200e-07"), (0.00099, "9.900e-04"), (1.5e30, "1.500e+30"),
                                     (123456.0, "1.235e+05"), (float("nan"), "nan"), (float("inf"), "inf")])
def test_number_switches_to_scientific_notation_outside_ordinary_magnitudes(x, text):
    assert number(x) == text


def test_number_with_other_decimals():
    assert number(0.5, 2) == "0.50" and number(0.005, 2) == "5.000e-03"


@pytest.mark.parametrize("s, text", [(0.0042, "4.2 ms"), (0.0, "0.0 ms"), (0.25, "250 ms"), (0.999, "999 ms"),
                                     (1.0, "1.00 s"), (3.267, "3.27 s"), (59.9, "59.90 s"), (125.4, "2 min 05 s")])
def test_seconds_never_shows_zero_seconds_for_a_short_epoch(s, text):
    assert seconds(s) == text


def test_count_is_singular_for_one():
    assert count(1, "epoch") == "1 epoch" and count(0, "epoch") == "0 epochs" and count(3, "epoch") == "3 epochs"
