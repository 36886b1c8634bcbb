"""Rebuild aggregates by folding domain events in commit order.

Used for balances as of a past position of the event log, for annual reports, and for the
auditor's replay of a ledger export: all three fold the same events through the same domain code.

``Fold.apply_record`` applies an event record: with the ``fast_replay`` speed-up
(`registry.speedups.fast_applier`) events of ``@event``-decorated methods are applied without
first building an event object; otherwise, and for creation events and any other event class,
through ``from_record`` and the library's ``mutate``. `tests/integration/test_speedups.py`
checks that both paths rebuild identical state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from registry.events import from_record
from registry.speedups import ALL, Speedups, fast_applier

#: called with (position, event, aggregate before the event or None)
Hook = Callable[[int, Any, Any], None]


class ReplayError(ValueError):
    """The events do not form a valid history (wrong aggregate, version out of sequence)."""


class Fold:
    def __init__(self, speedups: Speedups = ALL) -> None:
        self.fast = speedups.fast_replay
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
        fast = fast_applier(record["topic"]) if self.fast else None
        if fast is None:
            self.apply(record["position"], from_record(record))
            return
        aggregate = self._by_text.get(record["aggregate_id"])
        if aggregate is None:
            aggregate = self._aggregate(record)
        if not fast(aggregate, record):
            raise ReplayError(f"position {record['position']}: version {record['version']} "
                              f"does not follow {aggregate.version}")
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
