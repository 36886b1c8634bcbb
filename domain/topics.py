"""Pinned topics, so stored events stay readable when classes move or are renamed."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

PREFIX = "surplus"


def aggregate_topic(aggregate: str) -> str:
    return f"{PREFIX}:{aggregate}"


def event_topic(aggregate: str, event_name: str, version: int = 1) -> str:
    return f"{PREFIX}:{aggregate}.{event_name}.v{version}"


def natural_id(path: str) -> UUID:
    """A deterministic aggregate id from a natural key: a second create conflicts on save."""
    return uuid5(NAMESPACE_URL, path)
