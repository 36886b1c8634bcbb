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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from domain.exchange.orders import Outcome, Request
from registry.child_process import ChildProcess, NoAnswer, NotSent
from registry.child_process import wanted as child_wanted
from registry.storage import OutcomeUnknown

#: seconds a batch may take the child before it is given up; and to open the store and load
#: every market at its start (until then the gateway writes here)
TIMEOUT = 60.0
START_TIMEOUT = 600.0

Results = Mapping[str, "list[Outcome] | BaseException"]


def wanted(env: Mapping[str, str]) -> bool:
    """Whether order batches are written in a child process: ``REGISTRY_ORDER_PROCESS=1``
    (which ``registry serve`` sets unless it is set), never over the memory store."""
    return child_wanted(env, "REGISTRY_ORDER_PROCESS")


class OrderProcess(ChildProcess):
    """The child that writes the order gateway's batches (module docstring); ``here`` is
    ``Registry.exchange.submit_order_batches`` of this process, which writes a batch when
    the child cannot take it."""

    def __init__(self, env: Mapping[str, str],
                 here: Callable[..., Results]) -> None:
        super().__init__("registry.order_child", dict(env), what="order process",
                         instead="the order gateway writes its batches itself",
                         start_timeout=START_TIMEOUT, timeout=TIMEOUT)
        self.here = here
        self.sent = 0  # batches the child wrote (answered)

    def submit_order_batches(self, *, batches: Mapping[str, Sequence[Request]],
                             at: str) -> Results:
        """`ExchangeService.submit_order_batches`, in the child when it can take the batch,
        else here; `OutcomeUnknown` when the child took it and gave no answer."""
        frame = ({code: list(requests) for code, requests in batches.items()}, at)
        try:
            kind, value = self.ask(frame)
        except NotSent:
            return self.here(batches=batches, at=at)
        except NoAnswer as exc:
            raise OutcomeUnknown("the order process ended while it wrote the batch: it may or "
                                 "may not be stored") from exc
        self.sent += 1
        if kind == "raised":
            raise value
        results: dict[str, list[Outcome] | BaseException] = value
        return results


def answer(submit: Callable[..., Results], frame: Any) -> tuple[str, Any]:
    """The child's answer to one batch ``frame``: ``("done", results)`` or ``("raised",
    exception)``, as the gateway would get them here."""
    batches, at = frame
    try:
        return ("done", submit(batches=batches, at=at))
    except Exception as exc:  # the gateway answers every caller in the batch with it
        return ("raised", exc)


def untravelled(exc: BaseException) -> tuple[str, Any]:
    """The answer sent instead of one a pickle refuses (an exception that cannot travel)."""
    return ("raised", RuntimeError(f"the order process could not return its answer: "
                                   f"{type(exc).__name__}: {exc}"))
