"""Pause Python's cyclic garbage collector while a market batch is matched, settled and saved.

Why: a batch allocates tens of thousands of small lists and tuples (orders, fills, trades, the
batch events) that mostly outlive the youngest generation, so the collector ran dozens of times
per batch and, every few batches, walked the whole heap (books, serial blocks): about a third
of a durable batch went to collections that found next to nothing. Reference counting still
frees everything as usual; cycles made during a batch are collected once the batch is over.

The collector is process-wide, so pauses nest across threads: it is switched back on when the
last batch in progress ends, and only if it was on when the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.resume = False


_PAUSES = _Pauses()


@contextmanager
def gc_paused() -> Iterator[None]:
    p = _PAUSES
    with p.lock:
        if p.depth == 0:
            p.resume = gc.isenabled()
            gc.disable()
        p.depth += 1
    try:
        yield
    finally:
        with p.lock:
            p.depth -= 1
            if p.depth == 0 and p.resume:
                gc.enable()
