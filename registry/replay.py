"""Rebuild aggregates by folding domain events in commit order.

Used for balances as of a past position of the event log, for annual reports, and for the
auditor's replay of a ledger export: all three fold the same events through the same domain code.

``Fold.apply_record`` applies an event record: with the ``fast_replay`` speed-up
(`registry.speedups.fast_applier`) events of ``@event``-decorated methods are applied without
first building an event object; otherwise, and for creation events and any other event class,
through ``from_record`` and the library's ``mutate``. `tests/integration/test_speedups.py`
checks that both paths rebuild identical state. ``Fold.replayer`` applies a whole export's
records the same way, in one call a record (`registry.audit`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from registry.events import from_record
from registry.speedups import ALL, Speedups, apply_method, fast_applier, fast_method, stamp

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
        #: `replayer`: the last record's timestamp of each aggregate the fast path changed
        self._stamps: dict[str, str] = {}

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

    def replayer(self) -> Callable[[dict[str, Any]], None]:
        """`apply_record` for a run of records, to be followed by `finish`: the same state
        once `finish` has run. With the ``fast_replay`` speed-up it applies a record as
        `registry.speedups.fast_applier` does (`apply_method`) and keeps each aggregate's
        last timestamp as text, which `finish` parses once per aggregate instead of once per
        event: the modification time is the last event's, and no ``@event`` body reads it."""
        if not self.fast:
            return self.apply_record
        methods: dict[str, Any] = {}
        by_text, stamps, lookup = self._by_text, self._stamps, self._aggregate

        def replay(record: dict[str, Any]) -> None:
            topic = record["topic"]
            try:
                method = methods[topic]
            except KeyError:
                method = methods[topic] = fast_method(topic)
            text = record["aggregate_id"]
            if method is None:
                stamps.pop(text, None)  # the library's mutate sets the time itself
                self.apply(record["position"], from_record(record))
                return
            aggregate = by_text.get(text)
            if aggregate is None:
                aggregate = lookup(record)
            version = record["version"]
            if version != aggregate._version + 1:
                raise ReplayError(f"position {record['position']}: version {version} "
                                  f"does not follow {aggregate.version}")
            apply_method(method, aggregate, record["payload"], version)
            stamps[text] = record["timestamp"]
            self.position = record["position"]

        return replay

    def finish(self) -> Fold:
        """Set the modification times `replayer` kept as text."""
        by_text = self._by_text
        for text, timestamp in self._stamps.items():
            stamp(by_text[text], timestamp)
        self._stamps.clear()
        return self

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
