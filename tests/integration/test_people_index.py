"""The users, enterprises and agencies kept from the log (`registry.pending`, ``States(PEOPLE)``)
equal what the plain path reloads from the store, after random interleavings of writes and
reads, including another instance's writes; and the copies handed out are private."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from domain.credit import RESTRICTED
from registry import directory
from registry.bootstrap import Registry
from tests.conftest import Factory
from tests.support.world import AT, World, build_world

PASSWORD = "a long enough test passphrase"


def _fields(aggregate: Any) -> dict[str, Any]:
    return dict(vars(aggregate))


def _check(reader: Registry) -> None:
    assert [_fields(
        u) for u in reader.users.users()] == [_fields(u) for u in reader.users.users_reloaded()]
    with reader.reading_catalogue() as catalogue:
        firms = list(catalogue.entries["enterprises"])
        bodies = list(catalogue.entries["agencies"])
    assert [_fields(e) for e in directory.enterprises(reader, firms)] == \
        [_fields(reader.enterprise(c)) for c in firms]
    assert [_fields(a) for a in directory.agencies(reader, bodies)] == \
        [_fields(reader.agency(c)) for c in bodies]


def _steps(app: Registry, w: World, rnd: random.Random, admin: str) -> list[Callable[[], Any]]:
    steps: list[Callable[[], Any]] = []
    for n in range(6):
        user_id = f"u-{n}"
        steps.append(lambda n=n, user_id=user_id: app.users.create_user(
            login=f"trader.{n}", display_name=f"Trader {n}", organisation="enterprise",
            organisation_code=w.dyeing, roles=["trader"], by=admin, at=AT, user_id=user_id))
        if rnd.random() < 0.5:
            steps.append(lambda user_id=user_id: app.users.suspend_user(
                user_id=user_id, reason="left", by=admin, at=AT))
            steps.append(lambda user_id=user_id: app.users.reenable_user(
                user_id=user_id, by=admin, at=AT))
        if rnd.random() < 0.5:
            steps.append(lambda user_id=user_id: app.users.set_password(
                user_id=user_id, password=PASSWORD, by=admin, at=AT))
        if rnd.random() < 0.5:
            steps.append(lambda user_id=user_id: app.users.issue_token(
                user_id=user_id, by=admin, at=AT))
    for code in (w.paper, w.power):
        steps.append(lambda code=code: app.lifecycle.restrict_enterprise(
            credit_code=code, reason="late report", reference="CR-1", at=AT))
    steps.append(lambda: app.restrict_agency(credit_code=w.other_agency, reason="fraud",
                                             reference="CR-2", at=AT))
    return steps


@pytest.mark.parametrize("seed", [1, 2])
def test_people_from_the_log_equal_the_plain_reloads(factory: Factory, seed: int) -> None:
    rnd = random.Random(seed)
    app = factory()
    w = build_world(app)
    admin, _ = app.users.bootstrap_administrator(login="li.admin", display_name="Li", password=None,
                                                 at=AT)
    reader = factory()  # another instance stands for another process
    _check(reader)
    for step in _steps(app, w, rnd, admin.user_id):
        step()
        if rnd.random() < 0.5:
            _check(reader)
            _check(app)
    _check(reader)
    assert reader.people.rebuilds == 1  # brought up to date, never rebuilt
    assert len(reader.users.users()) == 7
    # something changed to compare
    assert [e.standing == RESTRICTED for e in directory.enterprises(reader, [w.paper, w.dyeing])
            ] == [True, False]


def test_the_copies_are_private(factory: Factory) -> None:
    app = factory()
    w = build_world(app)
    app.users.bootstrap_administrator(login="li.admin", display_name="Li", password=None, at=AT)
    first = app.users.users()[0]
    first.roles.append("auditor")
    first.display_name = "changed by a reader"
    again = app.users.users()[0]
    assert again.display_name == "Li" and "auditor" not in again.roles
    firm = directory.enterprises(app, [w.dyeing])[0]
    firm.name = "changed"
    assert directory.enterprises(app, [w.dyeing])[0].name == app.enterprise(w.dyeing).name
