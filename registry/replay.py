"""Rebuild aggregates by folding domain events in commit order.

Used for balances as of a past position of the event log, for annual reports, and for the
auditor's replay of a ledger export: all three fold the same events through the same domain code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

#: called with (position, event, aggregate before the event or None)
Hook = Callable[[int, Any, Any], None]


class Fold:
    def __init__(self) -> None:
        self.aggregates: dict[UUID, Any] = {}
        self.position = 0

    def apply(self, position: int, event: Any, hook: Hook | None = None) -> None:
        before = self.aggregates.get(event.originator_id)
        if hook is not None:
            hook(position, event, before)
        self.aggregates[event.originator_id] = event.mutate(before)
        self.position = position

    def run(self, events: Iterable[tuple[int, Any]], hook: Hook | None = None) -> Fold:
        for position, event in events:
            self.apply(position, event, hook)
        return self

    def of_type(self, cls: type) -> list[Any]:
        return [a for a in self.aggregates.values() if isinstance(a, cls)]


def comparable(aggregate: Any) -> dict[str, Any]:
    """An aggregate's state for equality checks: everything but pending events."""
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}
