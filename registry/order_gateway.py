"""Group commit for concurrent callers: many requests queue, one writer saves them in batches.

Callers queue their requests and wait; the gateway's writer thread (started on the first
request, stopped by `close`) waits up to ``max_wait`` seconds for company (or until
``max_batch`` requests are queued), takes what is queued, for every market, submits it as one
batch (one transaction, `Registry.submit_order_batches`) and hands every caller its own
outcome. Callers arriving meanwhile queue for the next batch. A request is acknowledged only
after the save holding it has returned. Under ``registry serve`` that save runs in a child
process (`registry.order_process`), which the writer thread waits for without the interpreter
lock.

Two ways to wait, one queue: a thread waits on its group's event (`submit`, `submit_many`),
a coroutine on a future of its event loop (`submit_async`, `submit_many_async`) so that an
``async`` route answers without a thread of its own; each batch wakes only its own callers,
those of a loop with one call into it.

Who acts: a batch holds the requests of many users, so its save is the gateway's own act
(``system:order-gateway``), whichever request arrived first; each request names the user who
entered it (``entered_by``), which is what the four-eyes checks and the audit read.

Why one queue for every market: the exchange writes one batch at a time anyway (its lock, which
a store of several API workers shares), and what a batch costs is mostly per save, so the
markets' requests that queued while one batch was written are cheapest written together. Each
market's requests keep their arrival order. A market whose batch cannot run (no such market)
fails only its own callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.exchange.orders import Outcome, Request
from registry.acting import acting
from registry.storage import committed_saves

log = logging.getLogger(__name__)

#: the actor of every batch's save (`registry.acting`): the requests in it name their users
GATEWAY_ACTOR = "system:order-gateway"

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


@dataclass
class _Group:
    """One caller's requests, of one market, and how the caller is woken once they are
    finished: a thread's event, or a coroutine's future on its loop."""

    tickets: list[_Ticket]
    event: threading.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future[None] | None = field(default=None)


class OrderGateway:
    def __init__(self, submit_batches: SubmitBatches, *, clock: Callable[[], str],
                 max_batch: int = 1000, max_wait: float = 0.002) -> None:
        """``submit_batches`` is ``Registry.submit_order_batches``; ``clock`` stamps each
        batch with the time (ISO 8601) it is written."""
        self._submit = submit_batches
        self._clock = clock
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._cond = threading.Condition()  # the writer waits on it for requests
        self._pending: list[_Group] = []  # in arrival order
        self._queued = 0  # requests in them
        self._idle = False  # the writer waits for a first request
        self._writer: threading.Thread | None = None
        self._closed = False
        self.batches = 0  # saves written

    # -- callers -------------------------------------------------------------------------------

    def submit(self, instrument: str, request: Request) -> Outcome:
        """Queue one request; return its outcome once the batch holding it is stored. If that
        batch's save fails, every caller in it gets the exception (nothing of it was stored)."""
        return self.submit_many(instrument, [request])[0]

    def submit_many(self, instrument: str, requests: Sequence[Request]) -> list[Outcome]:
        """Queue requests of one market as a group, in order; their outcomes, once the batch
        holding them is stored. A group is never split between batches (a batch takes whole
        groups, at least one, up to ``max_batch`` requests): it is stored in one save or,
        when that save fails, not at all, and the exception is raised."""
        if not requests:
            return []
        group = _Group([_Ticket(instrument, r) for r in requests], event=threading.Event())
        self._queue(group)
        assert group.event is not None  # set above
        group.event.wait()
        return _answered(group)

    async def submit_async(self, instrument: str, request: Request) -> Outcome:
        """`submit` for a coroutine: it waits on its event loop, holding no thread."""
        return (await self.submit_many_async(instrument, [request]))[0]

    async def submit_many_async(self, instrument: str,
                                requests: Sequence[Request]) -> list[Outcome]:
        """`submit_many` for a coroutine. Its requests are written whether or not it is
        still waiting when their batch is stored (a request cannot be taken back once
        queued)."""
        if not requests:
            return []
        loop = asyncio.get_running_loop()
        group = _Group([_Ticket(instrument, r) for r in requests], loop=loop,
                       future=loop.create_future())
        self._queue(group)
        assert group.future is not None  # set above
        await asyncio.shield(group.future)
        return _answered(group)

    def close(self) -> None:
        """Stop the writer once what is queued is written."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()

    def _queue(self, group: _Group) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the order gateway is closed")
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="order-gateway",
                                                daemon=True)
                self._writer.start()
            self._pending.append(group)
            self._queued += len(group.tickets)
            if self._idle or self._queued >= self.max_batch:
                self._cond.notify()  # the writer waits for a first request, or a full batch

    # -- the writer ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                if not self._pending:
                    return  # closed, nothing left to write
                groups = self._gather()
            try:
                with acting(GATEWAY_ACTOR):
                    self._write([t for g in groups for t in g.tickets])
            except BaseException as exc:  # every caller is answered, none waits forever
                log.exception("order gateway: a batch failed outside its save")
                for g in groups:
                    for t in g.tickets:
                        if not t.finished:
                            t.error = exc
            _wake(groups)

    def _gather(self) -> list[_Group]:
        """Called holding the lock, with a request queued: wait briefly for more requests,
        then take a batch of whole groups in arrival order."""
        deadline = time.monotonic() + self.max_wait
        while self._queued < self.max_batch and not self._closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._cond.wait(remaining)
        taken = 1
        size = len(self._pending[0].tickets)
        while (taken < len(self._pending)
               and size + len(self._pending[taken].tickets) <= self.max_batch):
            size += len(self._pending[taken].tickets)
            taken += 1
        groups, self._pending = self._pending[:taken], self._pending[taken:]
        self._queued -= size
        return groups

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


def _wake(groups: list[_Group]) -> None:
    """Wake the callers of a written batch: each thread by its event, the coroutines of each
    event loop by one call into that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for g in groups:
        if g.event is not None:
            g.event.set()
        elif g.loop is not None and g.future is not None:
            by_loop.setdefault(g.loop, []).append(g.future)
    for loop, futures in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits there any more
            loop.call_soon_threadsafe(_resolve, futures)


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def _answered(group: _Group) -> list[Outcome]:
    """The group's outcomes, or the error its batch failed with; the caller's request told
    that a save holding its requests committed (`_note_committed`)."""
    for ticket in group.tickets:
        if ticket.error is not None:
            raise ticket.error
    outcomes: list[Any] = [t.outcome for t in group.tickets]
    if any(o is None for o in outcomes):  # unreachable: finished means one of the two
        raise RuntimeError("order gateway lost an outcome")
    _note_committed(outcomes)
    return outcomes


def _note_committed(outcomes: Sequence[Outcome]) -> None:
    """Tell the caller's request that a save holding its requests committed, when one went
    in: the save ran in the gateway's writer thread, outside the request. A storage failure
    later in the caller's request (reading where its batch sits in the ledger) is then
    answered ``outcome-unknown``, never "nothing was stored"
    (`registry.storage.committed_saves`)."""
    saves = committed_saves.get()
    if saves is not None and any(o.exception is None for o in outcomes):
        saves.append(1)
