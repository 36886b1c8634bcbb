"""Domain events as plain records and back: the shape leaves, exports and replays share.

A record is ``{"position", "aggregate_id", "version", "topic", "timestamp", "payload"}``. Domain
events carry only JSON values (str, int, bool, None, lists, str-keyed dicts), so the payload is
the event's own attributes and a record turns back into the very same event.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.utils import get_topic, resolve_topic

from registry.log_reader import reader_from

_META = ("originator_id", "originator_version", "timestamp")


def to_record(position: int, event: DomainEventProtocol[Any]) -> dict[str, Any]:
    payload = {k: v for k, v in vars(event).items() if k not in _META}
    return {
        "position": position,
        "aggregate_id": str(event.originator_id),
        "version": event.originator_version,
        "topic": get_topic(type(event)),
        "timestamp": event.timestamp.isoformat(),
        "payload": payload,
    }


def from_record(record: dict[str, Any]) -> Any:
    """The event of a record. The payload may hold more than the event class declares (the
    ``actor`` and ``approved_by`` every new event carries, `registry.acting`), so the event
    is built as the library's mapper builds a stored one: its state set directly."""
    cls = resolve_topic(record["topic"])
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", {
        **record["payload"],
        "originator_id": UUID(record["aggregate_id"]),
        "originator_version": record["version"],
        "timestamp": datetime.fromisoformat(record["timestamp"]),
    })
    return event


def stored_events(
    app: Application, *, start: int = 1, stop: int | None = None, page: int = 1000
) -> Iterator[tuple[int, Any]]:
    """(position, domain event) in commit order, from ``start`` up to ``stop`` inclusive."""
    return reader_from(app, start=start, page=page).events(stop=stop)
