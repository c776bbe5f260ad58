"""linnet.collector: the cyclic collector paused around start-up and the final figures."""
import gc

import pytest

from linnet.collector import gc_paused


@pytest.fixture(autouse=True)
def collector_restored():
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_gc_paused_turns_the_collector_off_and_back_on():
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_gc_paused_turns_it_back_on_after_an_error():
    gc.enable()
    with pytest.raises(ValueError, match="drawing failed"):
        with gc_paused():
            raise ValueError("drawing failed")
    assert gc.isenabled()


def test_gc_paused_leaves_a_collector_that_was_off_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_freezing_at_the_end_leaves_the_collector_as_it_was_and_the_objects_frozen():
    for was_enabled in (True, False):
        (gc.enable if was_enabled else gc.disable)()
        try:
            with gc_paused(freeze=True):
                assert not gc.isenabled()
            assert gc.isenabled() == was_enabled and gc.get_freeze_count() > 0   # as before, startup frozen
        finally:
            gc.unfreeze()
            gc.enable()
