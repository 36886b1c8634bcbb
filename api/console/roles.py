"""What every signed-in page of a role shares: who is signed in, the CSRF check of a posted
form, acting as that person, and a refusal shown on the page.

A role page acts through the same route functions the API serves (``api.routes.*``), given the
session's `Principal`: the console has no authorisation of its own to drift from the API's.
Every event a form causes names the signed-in user as its ``actor``. `call` binds a route's
parameters the way FastAPI would, from their annotations, so that a route's new dependency
fails one fast test (tests/api/test_console_binder.py), not a page.
"""

from __future__ import annotations

import functools
import inspect
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeVar

from anyio import from_thread
from fastapi import Request, Response
from fastapi.params import Depends
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.auth import PLAIN_CHECKS, current_user
from api.console.login import current_session, form
from api.console.sessions import Session, csrf_matches
from api.console.terms import N_
from api.deps import authorize_enterprise, get_registry, get_state, owned_enterprise, page_params
from api.errors import ApiError, status_of
from api.state import AppState
from api.tokens import Principal
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


# -- calling a route function as the signed-in user -------------------------------------------

@dataclass(frozen=True)
class Slot:
    """One parameter of a route: its name, how it is filled, and (``check``) the plain check
    a role dependency makes of the principal, or (``own``) that a given enterprise code is
    checked with `authorize_enterprise` (the core of ``OwnEnterprise``)."""

    name: str
    kind: str  # "given" (path values, bodies, pages), or who, check, state, registry, …
    required: bool
    check: Callable[[Principal], Principal] | None = None
    own: bool = False


def _slot(route: Callable[..., Any], name: str, hint: Any, required: bool) -> Slot:
    if hint is Request:
        return Slot(name, "request", required)
    if isinstance(hint, type) and issubclass(hint, Response):
        return Slot(name, "response", required)
    if typing.get_origin(hint) is not Annotated:
        return Slot(name, "given", required)
    marks = [m for m in hint.__metadata__ if isinstance(m, Depends)]
    if not marks:
        return Slot(name, "given", required)  # Path, Query, Body: the console passes it
    dependency = marks[-1].dependency
    if dependency is get_state:
        return Slot(name, "state", required)
    if dependency is get_registry:
        return Slot(name, "registry", required)
    if dependency is current_user:
        return Slot(name, "who", required)
    if dependency in PLAIN_CHECKS:
        return Slot(name, "check", required, check=PLAIN_CHECKS[dependency])
    if dependency is owned_enterprise:
        return Slot(name, "given", required, own=True)
    if dependency is page_params:
        return Slot(name, "given", required)
    raise TypeError(f"the console cannot fill parameter {name!r} of {route.__qualname__}: its "
                    f"dependency {getattr(dependency, '__qualname__', dependency)!r} has no "
                    "plain counterpart in api.console.roles.call")


@cache
def slots(route: Callable[..., Any]) -> tuple[Slot, ...]:
    """The parameters of ``route`` and how each is filled; TypeError for a parameter nothing
    can fill."""
    try:
        hints = typing.get_type_hints(route, include_extras=True)
    except NameError as exc:
        raise TypeError(f"the console cannot read the annotations of {route.__qualname__}: "
                        f"{exc}") from None
    found = []
    for name, parameter in inspect.signature(route).parameters.items():
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise TypeError(f"the console cannot fill parameter {name!r} of "
                            f"{route.__qualname__}: only named parameters are bound")
        found.append(_slot(route, name, hints.get(name, parameter.annotation),
                           parameter.default is parameter.empty))
    return tuple(found)


def arrange(route: Callable[..., Any], given: int, named: Sequence[str]) -> dict[str, int | str]:
    """Which parameter of ``route`` each of ``given`` positional values and the ``named`` ones
    fill (the index of a positional value, or its name), checked without calling it: a value
    too many, an unknown name, or a required parameter left over is a TypeError naming it."""
    open_slots = [s for s in slots(route) if s.kind == "given"]
    if given > len(open_slots):
        raise TypeError(f"{route.__qualname__} takes {len(open_slots)} values from the console, "
                        f"given {given}")
    placed: dict[str, int | str] = {s.name: n for n, s in enumerate(open_slots[:given])}
    for name in named:
        if name in placed or name not in {s.name for s in open_slots}:
            raise TypeError(f"{route.__qualname__} has no parameter {name!r} the console may "
                            "give (or it is given twice)")
        placed[name] = name
    for s in open_slots:
        if s.required and s.name not in placed:
            raise TypeError(f"{route.__qualname__}: the console does not give its required "
                            f"parameter {s.name!r}")
    return placed


@dataclass(frozen=True)
class Caller:
    """Who calls a route from a page, and what the page has to fill its parameters with."""

    who: Principal
    state: AppState
    request: Request | None = None


def call(caller: Caller, route: Callable[..., T], /, *values: Any, **named: Any) -> T:
    """``route(...)`` as the API would call it for ``caller.who``: ``values`` and ``named``
    are the path values, bodies and pages; every other parameter is filled from its
    annotation (the app state, its registry, a fresh `Response`, the request, the principal
    after the role dependency's plain check; a given ``OwnEnterprise`` code is checked as the
    API checks it). The route's answer is returned as it is (a 202's proposal model too)."""
    who, state, request = caller.who, caller.state, caller.request
    placed = arrange(route, len(values), list(named))
    arguments: dict[str, Any] = {}
    for s in slots(route):
        if s.kind == "given":
            if s.name not in placed:
                continue  # its default, as over the API
            where = placed[s.name]
            value = values[where] if isinstance(where, int) else named[where]
            arguments[s.name] = authorize_enterprise(who, value) if s.own else value
        elif s.kind == "who":
            arguments[s.name] = who
        elif s.kind == "check":
            assert s.check is not None
            arguments[s.name] = s.check(who)
        elif s.kind == "state":
            arguments[s.name] = state
        elif s.kind == "registry":
            arguments[s.name] = state.registry
        elif s.kind == "response":
            arguments[s.name] = Response()
        elif request is None:
            raise TypeError(f"{route.__qualname__} needs the request for {s.name!r}")
        else:
            arguments[s.name] = request
    if inspect.iscoroutinefunction(route):
        # an async route (the order routes wait for their batch on the event loop): run on
        # the loop serving this request, whose thread pool this runs in, in this context
        return from_thread.run(functools.partial(route, **arguments))  # type: ignore[no-any-return]
    return route(**arguments)
