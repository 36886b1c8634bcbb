"""The API's registry reads and holds, once per backend: an enterprise's own holdings, holds
scoped to their owner, and finding a command's event in the log (what receipts hang on)."""

from __future__ import annotations

import pytest

from domain.errors import InsufficientHoldings, NotFound
from registry import directory, holds
from tests.conftest import Factory
from tests.support.world import build_world, issue

COD = "COD-2025-MAOZHOU"
AT = "2025-04-01T10:00:00+08:00"


def test_holdings_position_and_event_lookup(factory: Factory) -> None:
    app = factory()
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    version, position = holds.transfer(app, instrument=COD, seller=w.dyeing, buyer=w.paper,
                                       quantity=300, ref="T-1", at=AT,
                                       reason="correction", administrator="admin-t")
    assert version == "GD-2023.1"
    assert position == app.queries.position()
    found = directory.holding_event_at(app, position)
    assert found is not None
    name, event, parties = found
    assert (name, event.ref, parties) == ("Transferred", "T-1", {w.dyeing, w.paper})
    assert directory.holding_event_at(app, 1) is None  # a registration, not a holding event
    assert directory.holding_event_at(app, position + 1) is None
    rows = {r["enterprise"]: r for r in (*directory.holdings(app, w.dyeing),
                                          *directory.holdings(app, w.paper))}
    assert (rows[w.dyeing]["available"], rows[w.paper]["available"]) == (500, 300)
    assert directory.holdings(app, w.power) == []
    with pytest.raises(NotFound):
        directory.holdings(app, w.auditor)  # an agency's code names no enterprise


def test_holds_belong_to_their_owner(factory: Factory) -> None:
    app = factory()
    w = build_world(app)
    issue(app, w, reference="RF-1", enterprise=w.dyeing, kind="COD", baseline=900, post=100)
    holds.reserve(app, instrument=COD, owner=w.dyeing, quantity=200, ref="L-1", at=AT)
    before = app.queries.position()
    with pytest.raises(NotFound):
        holds.release(app, instrument=COD, owner=w.paper, ref="L-1", at=AT)
    with pytest.raises(InsufficientHoldings):
        holds.transfer(app, instrument=COD, seller=w.paper, buyer=w.dyeing, quantity=1,
                       ref="T-X", at=AT, from_hold="L-1",
                       reason="correction", administrator="admin-t")
    assert app.queries.position() == before
    assert holds.release(app, instrument=COD, owner=w.dyeing, ref="L-1", quantity=50,
                         at=AT) == 50
    assert directory.holding(app, w.dyeing, COD)["reserved"] == 150
