"""The API's rate-limit counters count as the ``limits`` library's sliding window counter does
(same refusals, same reset times), without its memory storage's expiry thread."""

from __future__ import annotations

import random
import time

import pytest
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from api.limits import SlidingWindows


@pytest.mark.parametrize("seed", range(5))
def test_the_counts_match_the_library_sliding_window_counter(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    now = [1_700_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])  # the library reads time.time()
    library = SlidingWindowCounterRateLimiter(MemoryStorage())
    ours = SlidingWindows(clock=lambda: now[0])
    items = parse_many("5/second; 20/minute")
    refused = 0
    for _ in range(600):
        now[0] += rng.choice((0.0, 0.01, 0.05, 0.2, 0.7, 3.0))
        key = rng.choice(("user:a", "user:b"))
        for item in items:
            assert ours.test(item, key) == library.test(item, key)
            allowed = library.hit(item, key)
            assert ours.hit(item, key) == allowed
            refused += not allowed
            assert ours.reset_at(item, key) == pytest.approx(
                library.get_window_stats(item, key)[0])
    assert refused > 0  # the limits were reached, so refusals were compared too
