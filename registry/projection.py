"""Rebuilding aggregates from snapshots and events, without the library's per-event assert.

The library's default projector (`eventsourcing.application.project_aggregate`, 9.5) checks
``assert isinstance(event, CanMutateProtocol)`` for every event it applies. The protocol is a
runtime-checkable `typing.Protocol`, and on CPython 3.11 each such check walks the protocol's
attributes again: in the HTTP load runs it was a quarter of the time of a holdings read (which
rebuilds every instrument from its last snapshot), and of every other reload. Every event and
snapshot this registry stores is an `eventsourcing` aggregate event or snapshot, which all
have ``mutate``; an event without it still fails, with an AttributeError, as under ``python
-O``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.application import Repository


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply ``events`` in order to ``aggregate`` (None before the first event)."""
    for e in events:
        aggregate = e.mutate(aggregate)
    return aggregate


class ProjectingRepository(Repository[Any]):
    """The library's repository, projecting with `project` unless told otherwise."""

    def get(self, aggregate_id: Any, *, version: int | None = None,
            projector_func: Any = project, **kwargs: Any) -> Any:
        return super().get(aggregate_id, version=version, projector_func=projector_func,
                           **kwargs)
