"""The state of every proposal, retrofit, expansion application and agreement, from the log.

The administrator's queue asks which proposals are pending, which retrofits await confirmation,
which expansion applications and agreements await a decision. Answering that by reloading every one
of them from the store (`RegistryBase._get`) costs more as the history grows. `States` follows the
log the way `registry.market_data` does: ``refresh`` reads the notifications committed since its
position, applies the events of these four aggregates (picked by topic, the others are not decoded)
to its own copies with the same domain code a reload runs, and keeps each one's ``state``. Readers
then load only the aggregates in the states they want, each from the store as before (its own copy),
in the plain path's order.

It is derived and in memory: a restart rebuilds it from the log on first use. If applying an event
fails, the state is dropped and rebuilt from the start on the next read.

The same index, following users, enterprises and agencies (``States(PEOPLE)``), serves the
administrator's registers of users and parties: ``copies`` hands out a private copy of each
current aggregate, so such a page no longer rebuilds every user or party from the store on
each render after a write (the plain reloads stay, `registry.users`, `registry.directory`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from domain.topics import PREFIX
from registry.log_reader import LogReader

#: the aggregates whose states the administrator's queue and the filtered listings ask for
PENDING = ("Proposal", "Retrofit", "ExpansionApplication", "Agreement")
#: the aggregates the administrator's registers of users and parties list
PEOPLE = ("User", "Enterprise", "Agency")


class States:
    def __init__(self, names: tuple[str, ...] = PENDING, page: int = 1000) -> None:
        self._followed = tuple(f"{PREFIX}:{name}." for name in names)
        self._lock = threading.Lock()
        self._page = page
        self._reset()
        self.rebuilds = 0  # times the index was rebuilt from the start of the log

    def _reset(self) -> None:
        self.position = 0
        self._aggregates: dict[UUID, Any] = {}
        self._states: dict[UUID, str | None] = {}

    def of(self, app: Application[Any], ids: Iterable[UUID]) -> list[str | None]:
        """The current state of each aggregate id (None for one the log does not hold)."""
        with self._lock:
            self._refresh(app)
            return [self._states.get(i) for i in ids]

    def copies(self, app: Application[Any], ids: Iterable[UUID]) -> list[Any]:
        """A private copy of each current aggregate (None for one the log does not hold),
        equal to what a reload from the store gives."""
        with self._lock:
            self._refresh(app)
            return [copy.deepcopy(self._aggregates.get(i)) for i in ids]

    def _refresh(self, app: Application[Any]) -> None:
        if self.position == 0:
            self.rebuilds += 1
        reader = LogReader(app, position=self.position, page=self._page)
        try:
            for batch in reader.pages():
                for n in batch:
                    if n.topic.startswith(self._followed):
                        event: Any = reader.decode(n)
                        aggregate = event.mutate(self._aggregates.get(event.originator_id))
                        self._aggregates[event.originator_id] = aggregate
                        self._states[event.originator_id] = getattr(aggregate, "state", None)
                self.position = batch[-1].id
        except Exception:
            self._reset()  # an index that cannot follow is rebuilt on the next read
            raise
