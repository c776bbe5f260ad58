"""`python -m linnet ...` (and `torchrun -m linnet ...`): the same as the `linnet` command."""
from linnet.cli import run

run()
