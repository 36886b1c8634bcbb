"""Who is acting: every new event names its ``actor`` (and ``approved_by`` when it took effect
through an approval).

A command runs inside ``acting(actor, approved_by)``; `RegistryBase.save` stamps each pending
event of the aggregates it saves with both before they are stored, so the payload, the ledger
leaf and an auditor's export all say who did what, without every domain method growing two
parameters. Work no request caused names itself ``system:<job>``.

Events stored before actors were recorded have no ``actor`` key. Their stored bytes, and the
ledger leaves already signed over them, must stay as they are, so the old shape is read
through `actor_of`, which answers ``unknown:legacy`` for them.

``along(factory)`` adds aggregates to the next save of the command (one transaction): an
approval's ``Proposal.Approved`` is stored with the act it approves, or not at all. The
factory is called at save time, so a command re-run after a conflict builds them afresh.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

LEGACY = "unknown:legacy"
UNATTRIBUTED = "system:registry"


@dataclass
class Acting:
    actor: str
    approved_by: str | None = None
    along: list[Callable[[], list[Any]]] = field(default_factory=list)
    #: who issued the credential the actor used, when not the actor itself (an
    #: administrator's token for a named user): recorded on every event it causes
    token_issued_by: str | None = None


_current: contextvars.ContextVar[Acting | None] = contextvars.ContextVar("acting", default=None)


def current() -> Acting | None:
    return _current.get()


def current_actor() -> str:
    acting = _current.get()
    return UNATTRIBUTED if acting is None else acting.actor


@contextmanager
def acting(actor: str | None, approved_by: str | None = None) -> Iterator[Acting]:
    """Run the block as ``actor``; nested blocks without an actor keep the outer one."""
    outer = _current.get()
    if actor is None:
        if outer is None:
            actor = UNATTRIBUTED
        else:
            actor, approved_by = outer.actor, approved_by or outer.approved_by
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("an actor is a user id or system:<job>")
    # one list of companions per outermost block: an approval's inner commands share it
    state = Acting(actor=actor, approved_by=approved_by,
                   along=outer.along if outer is not None else [])
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


@contextmanager
def bind(state: Acting) -> Iterator[Acting]:
    """Run the block in ``state`` (the API binds one per authenticated request)."""
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


@contextmanager
def along(factory: Callable[[], list[Any]]) -> Iterator[None]:
    """Save the factory's aggregates with the next save inside the block (see the module)."""
    state = _current.get()
    if state is None:
        raise RuntimeError("along() needs an acting() block")
    state.along.append(factory)
    try:
        yield
    finally:
        if factory in state.along:
            state.along.remove(factory)


def companions() -> list[Any]:
    """The aggregates to save along with the current save; built afresh each time."""
    state = _current.get()
    if state is None or not state.along:
        return []
    out: list[Any] = []
    for factory in state.along:
        out += factory()
    return out


def saved() -> None:
    """The save went through: its companions were stored and are not added again."""
    state = _current.get()
    if state is not None:
        state.along.clear()


def stamp(events: list[Any]) -> None:
    """Name the actor (and approver) in every new event that does not name one already."""
    state = _current.get()
    actor = UNATTRIBUTED if state is None else state.actor
    approved_by = None if state is None else state.approved_by
    issued_by = None if state is None else state.token_issued_by
    for e in events:
        fields = e.__dict__  # events are frozen dataclasses: set the stored state directly
        fields.setdefault("actor", actor)
        if approved_by is not None:
            fields.setdefault("approved_by", approved_by)
        if issued_by is not None and issued_by != fields["actor"]:
            fields.setdefault("token_issued_by", issued_by)


def actor_of(payload: Mapping[str, Any]) -> str:
    """The actor an event's payload names (``unknown:legacy`` for events stored before)."""
    actor = payload.get("actor")
    return actor if isinstance(actor, str) else LEGACY
