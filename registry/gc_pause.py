"""Pause Python's cyclic garbage collector while a market batch is matched, settled and saved.

Why: a batch allocates tens of thousands of small lists and tuples (orders, fills, trades, the
batch events) that mostly outlive the youngest generation, so the collector ran dozens of times
per batch and, every few batches, walked the whole heap (books, serial blocks): about a third
of a durable batch went to collections that found next to nothing. Reference counting still
frees everything as usual; cycles made during a batch are collected once the batch is over.

The collector is process-wide, so pauses nest across threads: it is switched back on when the
last batch in progress ends, and only if it was on when the first one began. Batches of several
markets may overlap without end; so that the collector is never starved, a batch ending while
others still run lets it run (by the interpreter's own generational thresholds) once it has
been off for ``MAX_OFF_SECONDS``.

A serving process also calls `settle_heap` once before it serves: the collector's full
collections walk the whole heap while holding the interpreter, and in the HTTP load runs they
came every few seconds (50–74 ms each, finding nothing), which every request in flight waited
out: the tail of the order latencies.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MAX_OFF_SECONDS = 1.0


class _Tick:
    """Allocating one of these (no free list) lets a due collection start."""


class _Pauses:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.resume = False
        self.off_since = 0.0


_PAUSES = _Pauses()


@contextmanager
def gc_paused() -> Iterator[None]:
    p = _PAUSES
    with p.lock:
        if p.depth == 0:
            p.resume = gc.isenabled()
            p.off_since = time.monotonic()
            gc.disable()
        p.depth += 1
    try:
        yield
    finally:
        with p.lock:
            p.depth -= 1
            if p.resume and (p.depth == 0
                             or time.monotonic() - p.off_since > MAX_OFF_SECONDS):
                gc.enable()
                if p.depth:  # others still run: collect as the thresholds say, then pause
                    _Tick()  # an allocation is what starts a due collection
                    gc.disable()
                    p.off_since = time.monotonic()


#: a full collection after this many middle-generation ones (the interpreter's default is 10)
FULL_COLLECTION_EVERY = 100


def settle_heap() -> None:
    """Once, in a process about to serve: collect, then move what survived (modules, the app)
    out of the collector's sight (`gc.freeze`: never walked again, still freed by reference
    counting), and make full collections rarer; the heap a long-running service keeps (caches,
    books, read models) is long-lived by design."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
