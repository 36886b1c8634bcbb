"""Aggregates rebuilt by the registry's projector equal the library's own projection."""

from __future__ import annotations

from eventsourcing.application import project_aggregate

from domain.exchange.cash import CashAccount
from domain.exchange.market import Market
from domain.instrument import Instrument
from registry.projection import ProjectingRepository
from registry.replay import comparable
from tests.integration.test_exchange_journeys import COD, Factory, exchange_world, trading_day


def test_rebuilt_aggregates_equal_the_library_projection(factory: Factory) -> None:
    app = factory()
    w = exchange_world(app)
    trading_day(app, w)
    assert isinstance(app.repository, ProjectingRepository)
    for aggregate_id in (Market.create_id(COD), Instrument.create_id("COD", 2025, "MAOZHOU"),
                         CashAccount.create_id(w.paper)):
        ours = app.repository.get(aggregate_id)
        theirs = app.repository.get(aggregate_id, projector_func=project_aggregate)
        assert comparable(ours) == comparable(theirs)
        first = app.repository.get(aggregate_id, version=1)
        assert first.version == 1
        assert comparable(first) == comparable(
            app.repository.get(aggregate_id, version=1, projector_func=project_aggregate))
