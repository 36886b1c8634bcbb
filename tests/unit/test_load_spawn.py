"""The load run's start: users arrive at the spawn rate, not in Locust's clump per second."""

from __future__ import annotations

import pytest

from loadtests.run_load import parse_args, spawn_spread


@pytest.mark.parametrize(("argv", "spread"), [
    ([], 1.0),  # 25/s: Locust releases 25 users every second; each starts within that second
    (["--spawn-rate", "2.5"], 0.8),  # 2 users every 0.8 s
    (["--spawn-rate", "0.5"], 2.0),  # 1 user every 2 s
    (["--spawn-rate", "25", "--spawn-spread", "0"], 0.0),  # the clump, on request
    (["--spawn-spread", "3"], 3.0),
])
def test_each_user_starts_within_its_dispatch_interval(argv: list[str], spread: float) -> None:
    assert spawn_spread(parse_args(argv)) == pytest.approx(spread)
