"""Auctions over HTTP (Electronics sells Shenzhen NOX; Dyeing and a ceramics works bid): sealed,
irrevocable bids, a per-bidder cap, one uniform clearing price, delivery-versus-payment for
every winner, and a verifiable receipt of the clearing."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_trades import verify_receipt
from tests.support.exchange_world import NOX, Exchange, open_exchange
from tests.support.world import AT, code

START = 100_000_000


CERAMICS = code(6)


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    for ex in open_exchange(tmp_path):
        ex.registry.register_enterprise(
            credit_code=CERAMICS, name="Shenzhen Nanshan Ceramics Co", sector="BUILDING_MATERIALS",
            prefecture="SHENZHEN", basin="DANSHUI", direct_discharger=False, at=AT)
        ex.registry.exchange.deposit(enterprise=CERAMICS, amount=START, reference="DEP-C",
                                     administrator="admin-cash", at=AT)
        yield ex


def open_auction(ex: Exchange, auction_id: str = "AU-1") -> None:
    r = ex.client.post("/auctions", headers=ex.token("administrator", "zhao.min"),
                       json={"auction_id": auction_id, "instrument": NOX,
                             "seller": ex.world.electronics, "volume": 10_000,
                             "reserve_price": 700_000, "min_bid": 1000})
    assert r.status_code == 201, r.text
    assert r.json()["cap"] == 5000 and r.json()["result"] is None


def bid(ex: Exchange, who: str, bid_id: str, price: int, qty: int):  # type: ignore[no-untyped-def]
    return ex.client.post("/auctions/AU-1/bids", headers=ex.enterprise(who),
                          json={"bid_id": bid_id, "price": price, "quantity": qty})


def test_uniform_price_clearing_with_a_cap_and_a_receipt(ex: Exchange) -> None:
    w = ex.world
    open_auction(ex)
    r = bid(ex, w.dyeing, "p1", 800_000, 6000)  # above the cap of half the volume
    assert r.status_code == 422 and r.json()["type"].endswith("/bid-above-cap"), r.text
    r = bid(ex, w.dyeing, "p1", 800_000, 5000)
    assert r.status_code == 201, r.text
    assert r.json()["reserved"] == 4_000_000
    assert bid(ex, CERAMICS, "e1", 750_000, 3000).status_code == 201
    assert bid(ex, CERAMICS, "e2", 720_000, 2000).status_code == 201
    # sealed: a bidder sees its own bids only; nobody sees a count or a price
    mine = ex.client.get("/auctions/AU-1/bids", headers=ex.enterprise(w.dyeing)).json()
    assert [b["bid_id"] for b in mine["items"]] == ["p1"]
    assert "bids" not in ex.client.get("/auctions/AU-1", headers=ex.enterprise(w.dyeing)).json()
    # irrevocable: there is no way to withdraw a bid
    assert ex.client.delete("/auctions/AU-1/bids/p1",
                            headers=ex.enterprise(w.dyeing)).status_code in (404, 405)
    opener = ex.client.post("/auctions/AU-1/clear", headers=ex.token("administrator",
                                                                     "zhao.min"))
    assert opener.status_code == 403
    r = ex.client.post("/auctions/AU-1/clear", headers=ex.token("administrator", "chen.jie"))
    assert r.status_code == 200, r.text
    assert r.json()["result"]["clearing_price"] == 720_000
    assert r.json()["result"]["sold"] == 10_000
    every = ex.client.get("/auctions/AU-1/bids", headers=ex.token("auditor", "li.wei")).json()
    assert {b["bid_id"]: b["allocated"] for b in every["items"]} == {
        "p1": 5000, "e1": 3000, "e2": 2000}  # p1 at its cap of half the volume
    dyeing, power = ex.registry.exchange.cash_account(
        w.dyeing), ex.registry.exchange.cash_account(CERAMICS)
    assert (dyeing.balance, dyeing.reserved) == (START - 3_600_000, 0)
    assert (power.balance, power.reserved) == (START - 3_600_000, 0)
    assert ex.registry.exchange.cash_account(w.electronics).balance == START + 7_200_000
    receipt = ex.client.get("/auctions/AU-1/receipt", headers=ex.enterprise(w.dyeing)).json()
    record = verify_receipt(receipt, ex.client.get("/ledger/vkey").text.strip())
    assert record["topic"] == "surplus:Auction.Cleared.v1"
    assert record["payload"]["clearing_price"] == 720_000  # type: ignore[index]
    assert {"type": "auction", "id": "AU-1"} in record["subjects"]  # type: ignore[operator]
    assert (receipt["subject_type"], receipt["subject"]) == ("auction", "AU-1")
    # each bidder's allocation is a sealed part: the leaf shows no bidder's quantity
    assert record["payload"]["allocations"]["$sealed"] == "dict"  # type: ignore[index]
    assert CERAMICS not in base64.b64decode(receipt["leaf"]).decode()
    assert ex.client.get("/auctions/AU-1/receipt",
                         headers=ex.enterprise(w.paper)).status_code == 404


def test_bids_are_checked_and_refusals_write_nothing(ex: Exchange) -> None:
    w = ex.world
    open_auction(ex)
    assert bid(ex, w.dyeing, "low", 600_000, 1000).status_code == 422  # below reserve
    assert bid(ex, w.dyeing, "odd", 800_000, 1500).status_code == 422  # not whole lots
    assert bid(ex, w.electronics, "self", 800_000, 1000).status_code == 422  # the seller
    assert bid(ex, w.paper, "zone", 800_000, 1000).status_code == 422  # Dongguan, not Shenzhen
    assert bid(ex, w.dyeing, "big", 800_000, 6000).status_code == 422  # above the cap
    assert bid(ex, w.dyeing, "rich", 10**9, 5000).status_code == 409  # no cash
    assert bid(ex, w.dyeing, "ok", 800_000, 1000).status_code == 201
    assert bid(ex, w.dyeing, "ok", 800_000, 1000).status_code == 422  # id taken
    assert ex.registry.exchange.cash_account(w.dyeing).reserved == 800_000
    assert len(ex.registry.exchange_modes.auction("AU-1").bids) == 1
    r = ex.client.post("/auctions/AU-1/bids", headers=ex.token("auditor", "li.wei"),
                       json={"price": 800_000, "quantity": 1000})
    assert r.status_code == 403
    r = ex.client.post("/auctions", headers=ex.enterprise(w.dyeing),
                       json={"instrument": NOX, "seller": w.electronics, "volume": 1000,
                             "reserve_price": 1, "min_bid": 1000})
    assert r.status_code == 403
    assert ex.client.get("/auctions/AU-9", headers=ex.enterprise(w.dyeing)).status_code == 404
    listed = ex.client.get("/auctions", headers=ex.enterprise(w.paper)).json()
    assert [a["auction_id"] for a in listed["items"]] == ["AU-1"]
