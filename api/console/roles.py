"""What every signed-in page of a role shares: who is signed in, the CSRF check of a posted
form, acting as that person, and a refusal shown on the page.

A role page acts through the same route functions the API serves (``api.routes.*``), given the
session's `Principal`: the console has no authorisation of its own to drift from the API's.
Every event a form causes names the signed-in user as its ``actor``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.console.login import current_session, form
from api.console.sessions import Session, csrf_matches
from api.console.terms import N_
from api.errors import ApiError, status_of
from domain.errors import RegistryError
from registry.acting import Acting, bind

T = TypeVar("T")


class SignInFirst(Exception):
    """No live session: the page leads to the sign-in form (see `install_redirect`)."""


def signed_in(request: Request, role: str) -> Session:
    """The request's session, of a user of ``role``; SignInFirst without one, 403 for
    another role's user."""
    session = current_session(request)
    if session is None:
        raise SignInFirst()
    if session.principal.role != role:
        raise ApiError(403, "forbidden", f"these pages are for the role {role}")
    return session


async def posted(request: Request, role: str) -> tuple[Session, dict[str, str]]:
    """The signed-in session and the form's fields, once its CSRF token is the session's
    (403 otherwise: nothing is done)."""
    fields = await form(request)
    session = await run_in_threadpool(signed_in, request, role)
    if not csrf_matches(session.csrf, fields.get("csrf_token")):
        raise ApiError(403, "forbidden", "the form's CSRF token is missing or wrong; reload "
                       "the page")
    return session, fields


@dataclass(frozen=True)
class Refusal:
    """Why the registry did not do what a form asked, shown on the page it came from."""

    status: int
    detail: str
    title: str = N_("The registry did not do this:")


def attempt(session: Session, act: Callable[[], T]) -> T | Refusal:
    """``act()`` as the session's user (every event it causes names them); a refusal of the
    registry or of the request's validation comes back as a `Refusal`, and nothing was done."""
    try:
        with bind(Acting(actor=session.principal.actor, token_issued_by=None)):
            return act()
    except RegistryError as exc:
        return Refusal(status_of(exc), str(exc))
    except ApiError as exc:
        return Refusal(exc.status, exc.detail)
    except ValidationError as exc:
        return Refusal(422, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                      for e in exc.errors()))
    except ValueError as exc:
        return Refusal(422, str(exc))


class Memo:
    """What a page was built from, by everything it was built from: a key that holds the
    event log's position is answered again until the registry moves on (an annual report is
    rebuilt from the whole log; a dashboard reads every instrument the enterprise holds)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                found: T = self._values[key]
                return found
        value = build()  # outside the lock: two builds of one key agree, the last one stays
        with self._lock:
            self._values[key] = value
            if len(self._values) > self.size:
                self._values.popitem(last=False)
        return value
