"""A seller's transfer reference is recorded with the transfer, once per backend: the same
reference again is refused and moves nothing, also from a second instance at the same time; a
refused transfer does not use its reference up; another seller has references of its own."""

from __future__ import annotations

import threading

import pytest

from domain.errors import AlreadyExists, InsufficientHoldings, RegistryError
from tests.conftest import Factory
from tests.support.world import build_world, issue

COD = "COD-2025-MAOZHOU"
AT = "2025-04-01T10:00:00+08:00"


def test_the_same_reference_again_is_refused_and_moves_nothing(factory: Factory) -> None:
    app = factory()
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=300, ref="T-1",
                          at=AT, reason="correction", administrator="admin-t")
    before = app.queries.position()
    with pytest.raises(AlreadyExists, match=r"transfer 'T-1' of .* is already recorded"):
        app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=300,
                              ref="T-1", at=AT, reason="correction", administrator="admin-t")
    assert app.queries.position() == before
    assert app.instrument(COD).balances()[w.paper]["available"] == 300


def test_a_refused_transfer_leaves_its_reference_free(factory: Factory) -> None:
    app = factory()
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    with pytest.raises(InsufficientHoldings):
        app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=801,
                              ref="T-1", at=AT, reason="correction", administrator="admin-t")
    app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=800, ref="T-1",
                          at=AT, reason="correction", administrator="admin-t")
    # the buyer, now a seller, may use the same words for its own transfer
    app.holdings.transfer(instrument=COD, seller=w.paper, buyer=w.dyeing, quantity=100, ref="T-1",
                          at=AT, reason="correction", administrator="admin-t")
    assert app.instrument(COD).balances()[w.paper]["available"] == 700


def test_two_instances_with_one_reference_store_one_transfer(factory: Factory) -> None:
    first = factory()
    w = build_world(first)
    issue(first, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    apps = [first, factory()]  # the second stands for another process (one store in memory)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def send(app) -> None:  # type: ignore[no-untyped-def]
        start.wait()
        try:
            app.holdings.transfer(instrument=COD, seller=w.dyeing, buyer=w.paper, quantity=100,
                                  ref="T-1", at=AT,
                                  reason="correction", administrator="admin-t")
            outcomes.append("stored")
        except RegistryError as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=send, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["AlreadyExists", "stored"]
    assert first.instrument(COD).balances()[w.paper]["available"] == 100
