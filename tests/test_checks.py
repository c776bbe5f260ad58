import re

import pytest

from linnet.checks import MAX_PARAMETERS, MAX_SIDE, check_parameters, check_size
from linnet.errors import ConfigError


@pytest.mark.parametrize("value, expected", [(28, (28, 28)), ((MAX_SIDE, 1), (MAX_SIDE, 1)), ([3, 4], (3, 4))])
def test_sizes_up_to_the_limit_are_accepted(value, expected):
    assert check_size("resize", value) == expected


@pytest.mark.parametrize("value", [MAX_SIDE + 1, (1, MAX_SIDE + 1), 10_000])
def test_a_side_above_the_limit_is_refused(value):
    message = f"The 'resize' parameter must be at most {MAX_SIDE} a side (linnet's limit on an image size). Got {value!r}."
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        check_size("resize", value)


def test_parameters_up_to_the_limit_are_accepted():
    check_parameters(MAX_PARAMETERS // 10, 10)


def test_parameters_above_the_limit_name_where_they_come_from():
    with pytest.raises(ConfigError, match=r"^runs/x/config.json: 100000000000 inputs x 10 outputs = 1000000000000 "
                                          rf"weights, more than the {MAX_PARAMETERS} linnet allows in one model$"):
        check_parameters(10 ** 11, 10, "runs/x/config.json")
