"""Pinned topics, so stored events stay readable when classes move or are renamed."""

from __future__ import annotations

from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

PREFIX = "surplus"


def aggregate_topic(aggregate: str) -> str:
    return f"{PREFIX}:{aggregate}"


def event_topic(aggregate: str, event_name: str, version: int = 1) -> str:
    return f"{PREFIX}:{aggregate}.{event_name}.v{version}"


@lru_cache(maxsize=1 << 16)
def natural_id(path: str) -> UUID:
    """A deterministic aggregate id from a natural key: a second create conflicts on save.

    Remembered (ids are immutable values): an exchange batch names the same few hundred
    accounts, enterprises and rights again and again, and a SHA-1 each time was ~3% of it."""
    return uuid5(NAMESPACE_URL, path)
