"""Markets over HTTP: orders through the group-commit gateway, depth, trades, history, stream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.exchange_world import COD, PRICE, Exchange, open_exchange


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def order(ex: Exchange, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    return ex.client.post(f"/markets/{COD}/orders", json=body, headers=headers)


def test_a_limit_order_rests_and_a_crossing_order_settles(ex: Exchange) -> None:
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
    r = order(ex, seller, order_id="s1", side="sell", price=PRICE, quantity=5000)
    assert r.status_code == 201, r.text
    assert r.json() == {"order_id": "s1", "instrument": COD, "account": ex.world.dyeing,
                        "status": "accepted", "fills": [], "filled": 0, "resting": 5000}
    book = ex.client.get(f"/markets/{COD}/book", headers=buyer).json()
    assert book["asks"] == [{"price": PRICE, "quantity": 5000, "orders": 1}]
    assert book["bids"] == []
    r = order(ex, buyer, side="buy", kind="market", quantity=2000)
    assert r.status_code == 201, r.text
    ack = r.json()
    assert ack["fills"] == [{"trade": f"{COD}:1", "price": PRICE, "quantity": 2000,
                             "state": "settled"}]
    assert ack["resting"] == 0 and len(ack["order_id"]) == 32  # generated
    assert ex.client.get(f"/markets/{COD}/book", headers=buyer).json()["asks"][0][
        "quantity"] == 3000
    cash = ex.registry.cash_account(ex.world.paper)
    assert cash.balance == 100_000_000 - PRICE * 2
