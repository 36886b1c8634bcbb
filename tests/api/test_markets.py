"""Markets over HTTP: orders through the group-commit gateway, depth, trades, history, stream."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def order(ex: Exchange, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    return ex.client.post(f"/markets/{COD}/orders", json=body, headers=headers)


def test_a_limit_order_rests_and_a_crossing_order_settles(ex: Exchange) -> None:
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
    r = order(ex, seller, order_id="s1", side="sell", price=PRICE, quantity=5000)
    assert r.status_code == 201, r.text
    ack = r.json()
    assert ack.pop("ledger")["event"] == "BatchMatched"  # the batch leaf that recorded it
    assert ack == {"order_id": "s1", "instrument": COD, "account": ex.world.dyeing,
                   "status": "accepted", "fills": [], "filled": 0, "resting": 5000}
    book = ex.client.get(f"/markets/{COD}/book", headers=buyer).json()
    assert book["asks"] == [{"price": PRICE, "quantity": 5000, "orders": 1}]
    assert book["bids"] == []
    r = order(ex, buyer, side="buy", kind="market", quantity=2000)
    assert r.status_code == 201, r.text
    ack = r.json()
    assert ack["fills"][0].pop("ledger")["receipt"] == f"/trades/{COD}:1/receipt"
    assert ack["fills"] == [{"trade": f"{COD}:1", "price": PRICE, "quantity": 2000,
                             "state": "settled"}]
    assert ack["resting"] == 0 and len(ack["order_id"]) == 32  # generated
    assert ex.client.get(f"/markets/{COD}/book", headers=buyer).json()["asks"][0][
        "quantity"] == 3000
    cash = ex.registry.exchange.cash_account(ex.world.paper)
    assert cash.balance == 100_000_000 - PRICE * 2


def test_market_data_is_public_to_participants_and_names_no_account(ex: Exchange) -> None:
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
    order(ex, seller, order_id="s1", side="sell", price=PRICE + 1000, quantity=3000)
    order(ex, seller, order_id="s2", side="sell", price=PRICE + 1000, quantity=2000)
    order(ex, seller, order_id="s3", side="sell", price=PRICE + 2000, quantity=1000)
    order(ex, buyer, order_id="b1", side="buy", price=PRICE - 1000, quantity=1000)
    order(ex, buyer, order_id="b2", side="buy", price=PRICE + 1000, quantity=4000)
    agency = ex.token("agency", ex.world.auditor)
    book = ex.client.get(f"/markets/{COD}/book", headers=agency, params={"levels": 1}).json()
    assert book["asks"] == [{"price": PRICE + 1000, "quantity": 1000, "orders": 1}]
    assert book["bids"] == [{"price": PRICE - 1000, "quantity": 1000, "orders": 1}]
    trades = ex.client.get(f"/markets/{COD}/trades", headers=agency).json()
    assert [(t["trade"], t["quantity"]) for t in trades["items"]] == [
        (f"{COD}:2", 1000), (f"{COD}:1", 3000)]  # newest first
    assert ex.world.dyeing not in str(trades) and ex.world.paper not in str(book)
    (bar,) = ex.client.get(f"/markets/{COD}/history", headers=agency).json()["items"]
    assert bar | {"period": None} == {"period": None, "open": PRICE + 1000, "high": PRICE + 1000,
                                      "low": PRICE + 1000, "close": PRICE + 1000,
                                      "quantity": 4000, "value": (PRICE + 1000) * 4,
                                      "trades": 2}
    markets = ex.client.get("/markets", headers=agency).json()
    assert [m["instrument"] for m in markets["items"]] == [COD, "NOX-2025-SHENZHEN"]
    cod = markets["items"][0]
    assert (cod["best_bid"], cod["best_ask"], cod["last_price"]) == (
        PRICE - 1000, PRICE + 1000, PRICE + 1000)
    assert (cod["lower_price"], cod["upper_price"]) == (PRICE * 9 // 10, PRICE * 11 // 10)
    assert ex.client.get(f"/markets/{COD}/book").status_code == 401
    assert ex.client.get("/markets/COD-2025-DANSHUI/book", headers=agency).status_code == 404


def test_own_orders_only_and_cancelling_releases_cash(ex: Exchange) -> None:
    paper, power = ex.enterprise(ex.world.paper), ex.enterprise(ex.world.power)
    assert order(ex, paper, order_id="b1", side="buy", price=PRICE,
                 quantity=5000).status_code == 201
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == PRICE * 5
    mine = ex.client.get(f"/markets/{COD}/orders", headers=paper).json()["items"]
    trader = ex.registry.users.user_by_login(f"trader.{ex.world.paper.lower()}").user_id
    assert [(o["order_id"], o["status"], o["resting"], o["entered_by"]) for o in mine] == [
        ("b1", "open", 5000, trader)]  # the person who entered it, by user id
    assert ex.client.get(f"/markets/{COD}/orders", headers=power).json()["items"] == []
    assert ex.client.get(f"/markets/{COD}/orders/b1", headers=power).status_code == 404
    assert ex.client.get(f"/markets/{COD}/orders", headers=power,
                         params={"account": ex.world.paper}).status_code == 404
    assert ex.client.delete(f"/markets/{COD}/orders/b1", headers=power).status_code == 404
    r = ex.client.delete(f"/markets/{COD}/orders/b1", headers=paper)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == 0
    assert ex.client.get(f"/markets/{COD}/orders/b1", headers=paper).json()["status"] == \
        "cancelled"
    assert ex.client.delete(f"/markets/{COD}/orders/b1", headers=paper).status_code == 404


def test_administrators_act_for_a_named_enterprise(ex: Exchange) -> None:
    admin = ex.token("administrator", "zhao.min")
    assert order(ex, admin, side="buy", price=PRICE, quantity=1000).status_code == 422
    r = order(ex, admin, order_id="a1", side="buy", price=PRICE, quantity=1000,
              account=ex.world.paper)
    assert r.status_code == 201 and r.json()["account"] == ex.world.paper
    listed = ex.client.get(f"/markets/{COD}/orders", headers=admin).json()["items"]
    assert listed[0]["entered_by"] == ex.registry.users.user_by_login("zhao.min").user_id
    r = ex.client.delete(f"/markets/{COD}/orders/a1", headers=admin,
                         params={"account": ex.world.paper})
    assert r.status_code == 200
    for role, subject in (("auditor", "li.wei"), ("agency", ex.world.auditor)):
        r = order(ex, ex.token(role, subject), side="buy", price=PRICE, quantity=1000,
                  account=ex.world.paper)
        assert r.status_code == 403, role


def test_an_enterprise_cannot_act_for_another(ex: Exchange) -> None:
    r = order(ex, ex.enterprise(ex.world.power), side="buy", price=PRICE, quantity=1000,
              account=ex.world.paper)
    assert r.status_code == 404
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == 0


@pytest.mark.parametrize(("body", "status"), [
    ({"side": "buy", "quantity": 1000}, 422),  # limit without a price
    ({"side": "buy", "price": 800_000.0, "quantity": 1000}, 422),  # float
    ({"side": "buy", "price": "800000", "quantity": 1000}, 422),  # string
    ({"side": "hold", "price": PRICE, "quantity": 1000}, 422),
    ({"side": "buy", "price": PRICE, "quantity": 0}, 422),
    ({"side": "buy", "price": PRICE, "quantity": 1500}, 422),  # not whole lots
    ({"side": "buy", "price": PRICE * 2, "quantity": 1000}, 422),  # outside the band
    ({"side": "buy", "price": PRICE, "quantity": 1000, "colour": "red"}, 422),
    ({"side": "buy", "price": PRICE, "quantity": 1000, "order_id": "a b"}, 422),
    ({"side": "buy", "price": PRICE, "quantity": 10**9}, 409),  # more cash than it has
    ({"side": "sell", "price": PRICE, "quantity": 1000}, 409),  # holds no COD
])
def test_refused_orders_are_problems_and_write_nothing(
    ex: Exchange, body: dict[str, object], status: int
) -> None:
    before = ex.registry.queries.position()
    r = order(ex, ex.enterprise(ex.world.paper), **body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert ex.registry.queries.position() == before


def test_an_order_id_is_used_once(ex: Exchange) -> None:
    paper = ex.enterprise(ex.world.paper)
    assert order(ex, paper, order_id="x", side="buy", price=PRICE,
                 quantity=1000).status_code == 201
    assert order(ex, paper, order_id="x", side="buy", price=PRICE,
                 quantity=1000).status_code == 422


def test_administrators_open_markets_and_set_parameters(ex: Exchange) -> None:
    admin, paper = ex.token("administrator", "zhao.min"), ex.enterprise(ex.world.paper)
    body = {"instrument": COD, "reference_price": PRICE}
    assert ex.client.post("/markets", headers=admin, json=body).status_code == 409
    assert ex.client.post("/markets", headers=paper, json=body).status_code == 403
    r = ex.client.post("/markets", headers=admin,
                       json={"instrument": "COD-2025-DANSHUI", "reference_price": PRICE})
    assert r.status_code == 404  # no such instrument issued
    r = ex.client.post("/markets", headers=admin, json={**body, "reference_price": 1.5})
    assert r.status_code == 422
    r = ex.act(f"/markets/{COD}/parameters", {"reference_price": PRICE * 2}, by="zhao.min")
    assert r.status_code == 200, r.text
    r = ex.client.get(f"/markets/{COD}", headers=admin)
    assert r.json()["reference_price"] == PRICE * 2 and r.json()["verify_above"] is None
    ex.act(f"/markets/{COD}/parameters", {"verify_above": 5_000_000}, by="zhao.min")
    r = ex.client.get(f"/markets/{COD}", headers=admin)
    assert (r.json()["reference_price"], r.json()["verify_above"]) == (PRICE * 2, 5_000_000)
    assert ex.client.post(f"/markets/{COD}/parameters", headers=paper,
                          json={"verify_above": None}).status_code == 403
    # the new band admits a price the old one refused
    assert order(ex, paper, side="buy", price=PRICE * 2, quantity=1000).status_code == 201


def test_concurrent_orders_share_saves_through_the_gateway(ex: Exchange) -> None:
    """Twenty buyers at once: every order acknowledged, in fewer saves than orders."""
    gateway = ex.client.app.state.registry_state.gateway  # type: ignore[attr-defined]
    gateway.max_wait = 0.2  # give the batch leader time to gather everyone
    order(ex, ex.enterprise(ex.world.dyeing), order_id="s", side="sell", price=PRICE,
          quantity=20_000)
    paper = ex.enterprise(ex.world.paper)
    before = gateway.batches
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda n: order(ex, paper, order_id=f"b{n}", side="buy",
                                                price=PRICE, quantity=1000), range(20)))
    assert [a.status_code for a in answers] == [201] * 20
    assert sorted(a.json()["fills"][0]["trade"] for a in answers) == sorted(
        f"{COD}:{n}" for n in range(1, 21))
    assert gateway.batches - before < 20
    assert ex.client.get(f"/markets/{COD}/book", headers=paper).json()["asks"] == []
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == 100_000_000 - PRICE * 20


def events(ex: Exchange, headers: dict[str, str], **params: object) -> list[dict[str, object]]:
    """Read one bounded stream to its end; each event as {id, event, data}."""
    out: list[dict[str, object]] = []
    with ex.client.stream("GET", f"/markets/{COD}/stream", headers=headers,
                          params=params) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        current: dict[str, object] = {}
        for line in r.iter_lines():
            if not line:
                if "event" in current:
                    out.append(current)
                current = {}
            elif line.startswith("id: "):
                current["id"] = int(line[4:])
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
    return out


def test_the_stream_sends_the_book_then_trades_and_book_changes(ex: Exchange) -> None:
    paper = ex.enterprise(ex.world.paper)
    (start,) = events(ex, paper, limit=1)  # the current book, and the feed position
    assert start["event"] == "book" and start["data"]["bids"] == []  # type: ignore[index]
    got: list[dict[str, object]] = []
    reader = threading.Thread(target=lambda: got.extend(
        events(ex, paper, after=start["id"], limit=4, timeout=20)))
    reader.start()  # listening before the orders arrive
    time.sleep(0.3)
    order(ex, ex.enterprise(ex.world.dyeing), side="sell", price=PRICE, quantity=3000)
    order(ex, paper, side="buy", price=PRICE, quantity=1000)
    reader.join(timeout=20)
    assert not reader.is_alive()
    assert [e["event"] for e in got] == ["book", "book", "trade", "book"]
    trade = got[2]["data"]
    assert trade == {"instrument": COD, "trade": f"{COD}:1", "price": PRICE, "quantity": 1000,
                     "state": "settled", "at": trade["at"]}  # type: ignore[index]
    assert got[3]["data"]["asks"] == [  # type: ignore[index]
        {"price": PRICE, "quantity": 2000, "orders": 1}]
    ids = [e["id"] for e in got[1:]]
    assert ids == sorted(ids) and len(set(ids)) == 3
    # resuming after the trade gives the book change that followed it, and nothing else
    resumed = events(ex, {**paper, "Last-Event-ID": str(got[2]["id"])}, timeout=0.5)
    assert [e["event"] for e in resumed] == ["book", "book"]
    assert resumed[1]["id"] == got[3]["id"]


def test_a_quiet_stream_ends_at_its_timeout_and_at_shutdown(ex: Exchange) -> None:
    paper = ex.enterprise(ex.world.paper)
    began = time.monotonic()
    assert [e["event"] for e in events(ex, paper, timeout=0.5)] == ["book"]
    assert time.monotonic() - began < 10  # bounded (generous: the machine is shared)
    got: list[dict[str, object]] = []
    reader = threading.Thread(target=lambda: got.extend(events(ex, paper, timeout=60)))
    reader.start()
    time.sleep(0.3)
    ex.client.app.state.registry_state.market_data.close()  # type: ignore[attr-defined]
    reader.join(timeout=10)  # far less than the stream's 60 s
    assert not reader.is_alive()
    assert ex.client.get(f"/markets/{COD}/stream", headers=paper,
                         params={"timeout": 61}).status_code == 422
    assert ex.client.get(f"/markets/{COD}/stream").status_code == 401


def test_a_repeated_order_with_one_idempotency_key_is_placed_once(ex: Exchange) -> None:
    paper = {**ex.enterprise(ex.world.paper), "Idempotency-Key": "order-7f3a"}
    body = {"side": "buy", "price": PRICE, "quantity": 2000}  # no order_id: server-generated
    first = ex.client.post(f"/markets/{COD}/orders", headers=paper, json=body)
    again = ex.client.post(f"/markets/{COD}/orders", headers=paper, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == PRICE * 2  # one order
    other = ex.client.post(f"/markets/{COD}/orders", headers=paper,
                           json={**body, "quantity": 3000})
    assert other.status_code == 422


def test_a_credit_restricted_enterprise_may_not_trade(ex: Exchange) -> None:
    ex.registry.lifecycle.restrict_enterprise(credit_code=ex.world.paper, reason="false report",
                                              reference="GD-CREDIT-2025-7",
                                              at="2025-03-02T09:00:00+08:00")
    r = order(ex, ex.enterprise(ex.world.paper), side="buy", price=PRICE, quantity=1000)
    assert r.status_code == 403, r.text
    assert r.json()["type"].endswith("/credit-restricted")
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == 0


def test_administrators_halt_and_resume_and_traders_amend(ex: Exchange) -> None:
    admin, paper = ex.token("administrator", "zhao.min"), ex.enterprise(ex.world.paper)
    placed = ex.client.post(f"/markets/{COD}/orders", headers=paper, json={
        "order_id": "B-AM", "side": "buy", "price": PRICE, "quantity": 5000})
    assert placed.status_code == 201, placed.text
    amended = ex.client.patch(f"/markets/{COD}/orders/B-AM", headers=paper,
                              json={"quantity": 2000})
    assert amended.status_code == 200 and amended.json()["status"] == "amended", amended.text
    assert amended.json()["resting"] == 2000
    assert ex.client.post(f"/markets/{COD}/halt", headers=paper,
                          json={"reason": "x"}).status_code == 403
    halted = ex.client.post(f"/markets/{COD}/halt", headers=admin, json={"reason": "anomaly"})
    assert halted.status_code == 200, halted.text
    refused = ex.client.post(f"/markets/{COD}/orders", headers=paper, json={
        "side": "buy", "price": PRICE, "quantity": 1000})
    assert refused.status_code == 409 and refused.json()["type"].endswith("/market-halted")
    cancelled = ex.client.delete(f"/markets/{COD}/orders/B-AM", headers=paper)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert ex.client.post(f"/markets/{COD}/resume", headers=admin,
                          json={"reason": "cleared"}).status_code == 200
    assert ex.client.post(f"/markets/{COD}/resume", headers=admin,
                          json={"reason": "again"}).status_code == 409
