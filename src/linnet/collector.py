"""Python's cyclic garbage collector paused around phases that make many objects and no garbage.

Importing torch and a run's modules, and drawing the final figures, each make some 10^5 objects:
enough to set off full collections, each of which walks every object the process holds (0.02-0.1 s
measured here, to free nothing). Reference counting still frees what is not in a cycle meanwhile.
"""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused(freeze: bool = False) -> Iterator[None]:
    """The cyclic collector off for the block, and back as it was after (also on an error).

    freeze=True: the objects made so far are then frozen (gc.freeze), so that later collections do not
    walk them: for start-up, whose modules live as long as the process."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
