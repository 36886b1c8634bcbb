"""Rebuild aggregates by folding domain events in commit order.

Used for balances as of a past position of the event log, for annual reports, and for the
auditor's replay of a ledger export: all three fold the same events through the same domain code.

``Fold.apply_record`` is the export replay's fast path. Events of ``@event``-decorated methods
are applied by calling the decorated method body with the payload, exactly as the library's
``DecoratedFuncCaller.apply`` does, with the same version check, but without first building an
event object; creation events and any other event class still go through ``from_record`` and
the library's ``mutate``. The test suite checks that both paths rebuild identical state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from inspect import signature
from typing import Any
from uuid import UUID

from eventsourcing.domain import CanInitAggregate, decorated_funcs
from eventsourcing.utils import resolve_topic

from registry.events import from_record

_timestamp = datetime.fromisoformat

#: called with (position, event, aggregate before the event or None)
Hook = Callable[[int, Any, Any], None]


class ReplayError(ValueError):
    """The events do not form a valid history (wrong aggregate, version out of sequence)."""


@cache
def _fast_apply(topic: str) -> tuple[Callable[..., None], frozenset[str]] | None:
    cls = resolve_topic(topic)
    func = decorated_funcs.get(cls)
    if func is None or issubclass(cls, CanInitAggregate):
        return None
    params = frozenset(signature(func).parameters) - {"self"}
    return func, params


class Fold:
    def __init__(self) -> None:
        self.aggregates: dict[UUID, Any] = {}
        self.position = 0
        self._by_text: dict[str, Any] = {}  # records name aggregates by their id's text

    def apply(self, position: int, event: Any, hook: Hook | None = None) -> None:
        before = self.aggregates.get(event.originator_id)
        if hook is not None:
            hook(position, event, before)
        self.aggregates[event.originator_id] = event.mutate(before)
        self.position = position

    def apply_record(self, record: dict[str, Any]) -> None:
        """Apply one event record (``registry.events.to_record`` shape)."""
        fast = _fast_apply(record["topic"])
        if fast is None:
            self.apply(record["position"], from_record(record))
            return
        func, params = fast
        aggregate = self._by_text.get(record["aggregate_id"])
        if aggregate is None:
            aggregate = self._aggregate(record)
        version = record["version"]
        if version != aggregate._version + 1:
            raise ReplayError(f"position {record['position']}: version {version} "
                              f"does not follow {aggregate._version}")
        payload = record["payload"]
        if payload.keys() <= params:  # an event's attributes are its method's parameters
            func(aggregate, **payload)
        else:
            func(aggregate, **{k: v for k, v in payload.items() if k in params})
        aggregate._version = version
        aggregate._modified_on = _timestamp(record["timestamp"])
        self.position = record["position"]

    def _aggregate(self, record: dict[str, Any]) -> Any:
        aggregate = self.aggregates.get(UUID(record["aggregate_id"]))
        if aggregate is None:
            raise ReplayError(f"position {record['position']}: event for unknown "
                              f"aggregate {record['aggregate_id']}")
        self._by_text[record["aggregate_id"]] = aggregate
        return aggregate

    def run(self, events: Iterable[tuple[int, Any]], hook: Hook | None = None) -> Fold:
        for position, event in events:
            self.apply(position, event, hook)
        return self

    def of_type(self, cls: type) -> list[Any]:
        return [a for a in self.aggregates.values() if isinstance(a, cls)]


def comparable(aggregate: Any) -> dict[str, Any]:
    """An aggregate's state for equality checks: everything but pending events."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
