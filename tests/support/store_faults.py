"""A store that fails a write before its commit (nothing stored) or after it (stored, then the
error, as when a connection drops on the commit's answer), for the tests of what a failed or
in-doubt save leaves behind."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import OperationalError

from registry.bootstrap import Registry


class FailingInserts:
    """Wraps ``app.recorder.insert_events``: the ``nth`` call from now fails ``when`` 'before'
    its commit (nothing stored) or 'after' it (stored, then the error)."""

    def __init__(self, app: Registry, *, nth: int = 1, when: str = "before",
                 lookups_fail: bool = False) -> None:
        self.app, self.nth, self.when, self.lookups_fail = app, nth, when, lookups_fail
        self.calls = 0
        self._insert = app.recorder.insert_events
        self._select = app.recorder.select_events
        app.recorder.insert_events = self.insert_events  # type: ignore[method-assign]

    def insert_events(self, stored_events: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls != self.nth:
            return self._insert(stored_events, **kwargs)
        if self.lookups_fail:  # the store goes away with the failure: nobody can ask it
            self.app.recorder.select_events = self._failing_select  # type: ignore[method-assign]
        if self.when == "before":
            raise OperationalError("injected: the connection dropped before the commit")
        ids = self._insert(stored_events, **kwargs)
        raise OperationalError(f"injected: the commit's answer was lost ({ids})")

    def _failing_select(self, *args: Any, **kwargs: Any) -> Any:
        raise OperationalError("injected: the store is unreachable")

    def restore(self) -> None:
        self.app.recorder.insert_events = self._insert  # type: ignore[method-assign]
        self.app.recorder.select_events = self._select  # type: ignore[method-assign]
