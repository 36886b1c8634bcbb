"""Snapshots that fall due in an exchange batch are taken from the saved aggregates, without
reloading them, and hold exactly the state that replaying the events gives."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from domain.exchange.cash import CashAccount
from domain.exchange.orders import Order
from domain.instrument import Instrument
from registry.replay import comparable
from tests.integration.test_exchange_journeys import COD, PRICE, Factory, exchange_world
from tests.support.world import AT


def replayed(app: Any, aggregate_id: Any, version: int) -> Any:
    """The aggregate folded from its events alone, up to ``version`` (no snapshot)."""
    events = app.events.get(aggregate_id, lte=version)
    return functools.reduce(lambda agg, e: e.mutate(agg), events, None)


def latest_snapshot(app: Any, aggregate_id: Any) -> Any:
    found = list(app.snapshots.get(aggregate_id, desc=True, limit=1))
    return found[0].mutate(None) if found else None


def test_due_snapshots_come_from_the_batch_and_equal_the_replay(factory: Factory,
                                                                monkeypatch) -> None:
    app = factory()
    w = exchange_world(app)

    def no_reload(*args: Any, **kwargs: Any) -> None:
        pytest.fail("a due snapshot was taken by reloading the aggregate")

    monkeypatch.setattr(app, "take_snapshot", no_reload)
    for n in range(205):  # one trade a batch, the tonne going back and forth between the two
        seller, buyer = (w.dyeing, w.paper) if n % 2 == 0 else (w.paper, w.dyeing)
        outcomes = app.exchange.submit_orders(instrument=COD, at=AT, requests=[
            Order(f"s{n}", seller, "S", "L", PRICE, 1_000, "s"),
            Order(f"b{n}", buyer, "B", "L", PRICE, 1_000, "b")])
        assert outcomes[1].fills, outcomes
    ids = [CashAccount.create_id(w.dyeing), CashAccount.create_id(w.paper),
           Instrument.create_id("COD", 2025, "MAOZHOU")]
    for aggregate_id in ids:
        snapshot = latest_snapshot(app, aggregate_id)
        assert snapshot is not None
        interval = app.snapshotting_intervals[type(snapshot)]
        assert snapshot.version % interval == 0
        assert comparable(snapshot) == comparable(replayed(app, aggregate_id, snapshot.version))
        reopened = factory()  # loads from the snapshot and the events after it
        assert comparable(reopened.repository.get(aggregate_id)) == comparable(
            replayed(app, aggregate_id, app.repository.get(aggregate_id).version))


def test_a_snapshot_due_before_the_last_event_of_a_save_is_taken_at_its_version(
        factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    account = app.exchange.cash_account(w.paper)
    interval = app.snapshotting_intervals[CashAccount]
    n = 0
    while account.version % interval != interval - 1:  # one event short of due
        n += 1
        account.deposit(amount=1, reference=f"D-{n}", administrator="admin-cash", at=AT)
    account.deposit(amount=1, reference="D-a", administrator="admin-cash", at=AT)
    account.deposit(amount=1, reference="D-b", administrator="admin-cash", at=AT)
    app.save(account)  # the due event is the middle one of the last three
    snapshot = latest_snapshot(app, account.id)
    assert snapshot.version == account.version - 1
    assert comparable(snapshot) == comparable(replayed(app, account.id, snapshot.version))
