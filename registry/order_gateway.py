"""Group commit for concurrent callers: many threads submit single orders, one save per batch.

A caller that finds no batch being written becomes the *leader*: it waits up to ``max_wait``
seconds for company (or until ``max_batch`` requests are queued), takes what is queued, for
every market, submits it as one batch (one transaction, `Registry.submit_order_batches`) and
hands every caller its own outcome. Callers arriving meanwhile queue, and one of them leads the
next batch. There is no background thread to start or stop, and a request is acknowledged only
after the save holding it has returned.

Why one queue for every market: the exchange writes one batch at a time anyway (its lock, which
a store of several API workers shares), and what a batch costs is mostly per save, so the
markets' requests that queued while one batch was written are cheapest written together. Each
market's requests keep their arrival order. A market whose batch cannot run (no such market)
fails only its own callers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from domain.exchange.orders import Outcome, Request
from registry.storage import committed_saves

#: ``Registry.submit_order_batches``: per market, its outcomes or the error that refused it
SubmitBatches = Callable[..., Mapping[str, "list[Outcome] | BaseException"]]


@dataclass
class _Ticket:
    instrument: str
    request: Request
    outcome: Outcome | None = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None or self.error is not None


class OrderGateway:
    def __init__(self, submit_batches: SubmitBatches, *, clock: Callable[[], str],
                 max_batch: int = 1000, max_wait: float = 0.002) -> None:
        """``submit_batches`` is ``Registry.submit_order_batches``; ``clock`` stamps each
        batch with the time (ISO 8601) it is written."""
        self._submit = submit_batches
        self._clock = clock
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._pending: list[list[_Ticket]] = []  # groups of tickets, in arrival order
        self._writing = False
        self.batches = 0  # saves written

    def submit(self, instrument: str, request: Request) -> Outcome:
        """Queue one request; return its outcome once the batch holding it is stored. If that
        batch's save fails, every caller in it gets the exception (nothing of it was stored)."""
        return self.submit_many(instrument, [request])[0]

    def submit_many(self, instrument: str, requests: Sequence[Request]) -> list[Outcome]:
        """Queue requests of one market as a group, in order; their outcomes, once the batch
        holding them is stored. A group is never split between batches (a batch takes whole
        groups, at least one, up to ``max_batch`` requests): it is stored in one save or,
        when that save fails, not at all, and the exception is raised."""
        group = [_Ticket(instrument, r) for r in requests]
        if not group:
            return []
        cond = self._cond
        with cond:
            self._pending.append(group)
            cond.notify_all()  # a leader gathering a batch may now be full
            while not group[0].finished:
                if self._writing:
                    cond.wait()
                    continue
                self._writing = True
                try:
                    batch = self._gather()
                    cond.release()
                    try:
                        self._write(batch)
                    finally:
                        cond.acquire()
                finally:
                    self._writing = False
                    cond.notify_all()
        for ticket in group:
            if ticket.error is not None:
                raise ticket.error
        outcomes = [t.outcome for t in group]
        if any(o is None for o in outcomes):  # unreachable: finished means one of the two
            raise RuntimeError("order gateway lost an outcome")
        _note_committed(outcomes)  # type: ignore[arg-type]  # none is None (checked above)
        return outcomes  # type: ignore[return-value]  # none is None (checked above)

    def _queued(self) -> int:
        return sum(len(g) for g in self._pending)

    def _gather(self) -> list[_Ticket]:
        """Called holding the lock: wait briefly for more requests, then take a batch of
        whole groups in arrival order."""
        deadline = time.monotonic() + self.max_wait
        while self._queued() < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
        taken = 1
        size = len(self._pending[0])
        while taken < len(self._pending) and size + len(self._pending[taken]) <= self.max_batch:
            size += len(self._pending[taken])
            taken += 1
        groups, self._pending = self._pending[:taken], self._pending[taken:]
        return [t for g in groups for t in g]

    def _write(self, batch: list[_Ticket]) -> None:
        by_market: dict[str, list[_Ticket]] = {}
        for t in batch:
            by_market.setdefault(t.instrument, []).append(t)
        try:
            results = self._submit(
                batches={code: [t.request for t in ts] for code, ts in by_market.items()},
                at=self._clock())
            if any(not isinstance(r, BaseException) for r in results.values()):
                self.batches += 1  # a save was written
            for code, tickets in by_market.items():
                result = results[code]
                if isinstance(result, BaseException):
                    for t in tickets:
                        t.error = result
                    continue
                for t, outcome in zip(tickets, result, strict=True):
                    t.outcome = outcome
        except BaseException as exc:  # every caller is answered, none waits forever
            for t in batch:
                if not t.finished:
                    t.error = exc


def _note_committed(outcomes: Sequence[Outcome]) -> None:
    """Tell the caller's request that a save holding its requests committed, when one went
    in: the save may have run in another caller's thread (the batch's leader), whose request
    alone the store marked. A storage failure later in the caller's request (reading where
    its batch sits in the ledger) is then answered ``outcome-unknown``, never "nothing was
    stored" (`registry.storage.committed_saves`)."""
    saves = committed_saves.get()
    if saves is not None and any(o.exception is None for o in outcomes):
        saves.append(1)
