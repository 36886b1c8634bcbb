"""The order gateway's batches written in a process of their own: matching, settlement and the
save off the serving process's interpreter lock.

Why: under saturated single orders the serving process sits at 100% of one core, held there
by the interpreter lock, while the machine's other core has room; the gateway's writer
(`registry.order_gateway`) matching, settling and saving each batch was over a quarter of that
process's interpreter time (py-spy ``--gil``), time the event loop waited for. `OrderProcess`
hands each batch to a child (`registry.order_child`: a registry of its own over the same store)
that runs exactly what the gateway ran here, `ExchangeService.submit_order_batches`, as the
gateway's act, and answers with the same per-market outcomes or the same exception.

Two processes then write the exchange, so every exchange write in either holds the exchange's
cross-process lock (`registry.book_lock`: an ``flock`` beside a SQLite file, an advisory lock
on PostgreSQL) and first brings its cached aggregates up to what the other stored
(`ExchangeWriter.sync`), as two API workers on PostgreSQL always have. Reads are unchanged:
every read model catches up with the store before it answers.

When the child cannot take a batch (it is still opening the store, it could not start, it
failed earlier), the gateway writes it here as before; that is logged once. When the child
ends, or goes silent for ``TIMEOUT`` seconds, after a batch was sent and before it answered,
the batch is in doubt: the child is ended (and waited for, so it stores nothing more), every
caller in the batch gets `OutcomeUnknown` (503 ``outcome-unknown``: a re-run with the same
order id finds what was stored), and later batches are written here.

``registry serve`` writes orders in a child unless ``REGISTRY_ORDER_PROCESS=0``; an app built
otherwise (the tests' apps) only with ``REGISTRY_ORDER_PROCESS=1``; never over the memory
store, which another process cannot see. `tests/integration/test_order_process.py` requires
the same outcomes and the same stored events both ways, the fallback, the in-doubt answer and
the child's end with its parent.

The verification queue's decisions (approving or rejecting a queued trade) are written by the
child too (`registry.exchange.Elsewhere`), as the administrator who made them: they change the
markets and instruments the batches change, and this process's copies of those would have to
re-apply every batch the child stored before each decision, under the lock every batch waits
for (a `Market` re-matches them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from domain.exchange.orders import Outcome, Request
from registry.acting import UNATTRIBUTED, Acting, acting, bind, current
from registry.child_process import ChildProcess, NoAnswer, NotSent
from registry.child_process import wanted as child_wanted
from registry.order_gateway import GATEWAY_ACTOR
from registry.storage import OutcomeUnknown, committed_saves

#: seconds a batch may take the child before it is given up; and to open the store and load
#: every market at its start (until then the gateway writes here)
TIMEOUT = 60.0
START_TIMEOUT = 600.0

Results = Mapping[str, "list[Outcome] | BaseException"]


def wanted(env: Mapping[str, str]) -> bool:
    """Whether order batches are written in a child process: ``REGISTRY_ORDER_PROCESS=1``
    (which ``registry serve`` sets unless it is set), never over the memory store."""
    return child_wanted(env, "REGISTRY_ORDER_PROCESS")


#: the exchange's commands the order process also writes (`registry.exchange.Elsewhere`)
COMMANDS = frozenset({"approve_trade", "reject_trade"})


class OrderProcess(ChildProcess):
    """The child that writes the order gateway's batches (module docstring); ``here`` is
    ``Registry.exchange.submit_order_batches`` of this process, which writes a batch when
    the child cannot take it. It also writes the verification queue's decisions
    (`COMMANDS`, `command`)."""

    def __init__(self, env: Mapping[str, str],
                 here: Callable[..., Results]) -> None:
        super().__init__("registry.order_child", dict(env), what="order process",
                         instead="the order gateway writes its batches itself",
                         start_timeout=START_TIMEOUT, timeout=TIMEOUT)
        self.here = here
        self.sent = 0  # batches and commands the child wrote (answered)

    def submit_order_batches(self, *, batches: Mapping[str, Sequence[Request]],
                             at: str) -> Results:
        """`ExchangeService.submit_order_batches`, in the child when it can take the batch,
        else here; `OutcomeUnknown` when the child took it and gave no answer."""
        frame = ("batch", {code: list(requests) for code, requests in batches.items()}, at)
        try:
            value = self._asked(frame)
        except NotSent:
            return self.here(batches=batches, at=at)
        results: dict[str, list[Outcome] | BaseException] = value
        return results

    def command(self, name: str, kwargs: dict[str, Any], *,
                here: Callable[..., None]) -> None:
        """The exchange's command ``name`` (one of `COMMANDS`) with ``kwargs``, in the child
        as the same actor when it can take it, else ``here``; `OutcomeUnknown` when the child
        took it and gave no answer. A command with companions to save along
        (`registry.acting.along`) is written here: they do not travel."""
        if name not in COMMANDS:
            raise ValueError(f"the order process does not write {name}")
        state = current()
        if state is not None and state.along:
            here(**kwargs)
            return
        who = None if state is None else (state.actor, state.approved_by,
                                          state.token_issued_by)
        try:
            self._asked(("command", name, kwargs, who))
        except NotSent:
            here(**kwargs)
            return
        saves = committed_saves.get()  # the request's save went in, in the child
        if saves is not None:
            saves.append(1)

    def _asked(self, frame: Any) -> Any:
        try:
            kind, value = self.ask(frame)
        except NoAnswer as exc:
            raise OutcomeUnknown("the order process ended while it wrote the request: it may "
                                 "or may not be stored") from exc
        self.sent += 1
        if kind == "raised":
            raise value
        return value


def answer(registry: Any, frame: Any) -> tuple[str, Any]:
    """The child's answer to one frame of `OrderProcess` (a batch, or a command as its
    actor): ``("done", result)`` or ``("raised", exception)``, as the caller would get them
    here. ``registry`` is the child's `registry.bootstrap.Registry`."""
    try:
        if frame[0] == "batch":
            _, batches, at = frame
            with acting(GATEWAY_ACTOR):
                return ("done", registry.exchange.submit_order_batches(batches=batches, at=at))
        _, name, kwargs, who = frame
        if name not in COMMANDS:
            raise ValueError(f"the order process does not write {name}")
        state = (Acting(actor=UNATTRIBUTED) if who is None
                 else Acting(actor=who[0], approved_by=who[1], token_issued_by=who[2]))
        with bind(state):
            return ("done", getattr(registry.exchange, name)(**kwargs))
    except Exception as exc:  # the caller answers with it, as it would here
        return ("raised", exc)


def untravelled(exc: BaseException) -> tuple[str, Any]:
    """The answer sent instead of one a pickle refuses (an exception that cannot travel)."""
    return ("raised", RuntimeError(f"the order process could not return its answer: "
                                   f"{type(exc).__name__}: {exc}"))
