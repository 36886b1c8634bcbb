"""Group commit for concurrent callers: many threads submit single orders, one save per batch.

A caller that finds no batch being written for its market becomes the *leader*: it waits up to
``max_wait`` seconds for company (or until ``max_batch`` requests are queued), takes what is
queued for that market, submits it as one batch (one transaction) and hands every caller its own
outcome. Callers arriving meanwhile queue, and one of them leads the next batch. There is no
background thread to start or stop, a request is acknowledged only after the save holding it
has returned, and each market has its own queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.exchange.orders import Outcome, Request

Submit = Callable[..., list[Outcome]]


@dataclass
class _Ticket:
    request: Request
    outcome: Outcome | None = None
    error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return self.outcome is not None or self.error is not None


@dataclass
class _Queue:
    cond: threading.Condition = field(default_factory=threading.Condition)
    pending: list[_Ticket] = field(default_factory=list)
    writing: bool = False


class OrderGateway:
    def __init__(self, submit_orders: Submit, *, clock: Callable[[], str],
                 max_batch: int = 1000, max_wait: float = 0.002) -> None:
        """``submit_orders`` is ``Registry.submit_orders``; ``clock`` stamps each batch with
        the time (ISO 8601) it is written."""
        self._submit = submit_orders
        self._clock = clock
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._queues: dict[str, _Queue] = {}
        self._guard = threading.Lock()
        self.batches = 0

    def _queue(self, instrument: str) -> _Queue:
        with self._guard:
            return self._queues.setdefault(instrument, _Queue())

    def submit(self, instrument: str, request: Request) -> Outcome:
        """Queue one request; return its outcome once the batch holding it is stored. If that
        batch's save fails, every caller in it gets the exception (nothing of it was stored)."""
        q = self._queue(instrument)
        ticket = _Ticket(request)
        with q.cond:
            q.pending.append(ticket)
            q.cond.notify_all()  # a leader gathering a batch may now be full
            while not ticket.finished:
                if q.writing:
                    q.cond.wait()
                    continue
                q.writing = True
                try:
                    batch = self._gather(q)
                    q.cond.release()
                    try:
                        self._write(instrument, batch)
                    finally:
                        q.cond.acquire()
                finally:
                    q.writing = False
                    q.cond.notify_all()
        if ticket.error is not None:
            raise ticket.error
        if ticket.outcome is None:  # unreachable: finished means one of the two is set
            raise RuntimeError("order gateway lost an outcome")
        return ticket.outcome

    def _gather(self, q: _Queue) -> list[_Ticket]:
        """Called holding the lock: wait briefly for more requests, then take a batch."""
        deadline = time.monotonic() + self.max_wait
        while len(q.pending) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            q.cond.wait(remaining)
        batch, q.pending = q.pending[: self.max_batch], q.pending[self.max_batch:]
        return batch

    def _write(self, instrument: str, batch: list[_Ticket]) -> None:
        try:
            outcomes = self._submit(instrument=instrument,
                                    requests=[t.request for t in batch], at=self._clock())
        except BaseException as exc:
            for t in batch:
                t.error = exc
            return
        self.batches += 1
        for t, outcome in zip(batch, outcomes, strict=True):
            t.outcome = outcome
