"""The collector pause nests across threads and restores what it found."""

from __future__ import annotations

import gc
import threading

from registry.gc_pause import FULL_COLLECTION_EVERY, gc_paused, settle_heap


def test_pauses_nest_and_the_collector_comes_back_on_after_the_last():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pause_in_another_thread_keeps_the_collector_off_until_it_ends():
    inside, leave = threading.Event(), threading.Event()

    def batch() -> None:
        with gc_paused():
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=batch)
    t.start()
    inside.wait(5)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the other batch is still running
    leave.set()
    t.join()
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_host_stays_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_exception_inside_a_pause_still_ends_it():
    try:
        with gc_paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.isenabled()


def test_overlapping_pauses_do_not_starve_the_collector(monkeypatch):
    """Two markets' batches overlapping without end: cycles are still collected."""
    import weakref

    from registry import gc_pause

    monkeypatch.setattr(gc_pause, "MAX_OFF_SECONDS", 0.0)

    class Node:
        pass

    hold = gc_paused()
    hold.__enter__()  # another market's batch that never seems to end
    try:
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the collector frees it
        gone = weakref.ref(a)
        del a, b
        kept: list[Node] = []
        for _ in range(500):  # net growth makes a young collection due
            with gc_paused():
                kept.extend(Node() for _ in range(5))
        assert not gc.isenabled()  # still paused for the batch in progress
        assert gone() is None
    finally:
        hold.__exit__(None, None, None)
    assert gc.isenabled()


def test_settling_the_heap_freezes_survivors_and_makes_full_collections_rarer():
    threshold = gc.get_threshold()
    try:
        survivor = [object()]
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert all(o is not survivor for o in gc.get_objects(generation=2))  # frozen
        assert gc.get_threshold() == (threshold[0], threshold[1], FULL_COLLECTION_EVERY)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
