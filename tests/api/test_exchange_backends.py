"""The exchange journey over HTTP on SQLite and on PostgreSQL, and with the order batches
written in a process of their own (`registry.order_process`, as ``registry serve`` runs):
concurrent orders group-committed, a queued trade approved by a second administrator, and a
receipt that verifies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.api.test_trades import verify_receipt
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange

THRESHOLD = 5_000_000  # fen: trades above 6.25 t at 8,000 CNY/t wait for an administrator


@pytest.fixture(params=["sqlite", "sqlite-order-process",
                        pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("postgres-order-process", marks=pytest.mark.postgres)])
def ex(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Exchange]:
    store: dict[str, str] = {}
    if request.param.startswith("postgres"):
        store = {"REGISTRY_STORE": "postgres", **request.getfixturevalue("postgres_env")}
    if request.param.endswith("order-process"):
        store["REGISTRY_ORDER_PROCESS"] = "1"
    for ex in open_exchange(tmp_path, store, verify_above=THRESHOLD):
        process = ex.client.app.state.registry_state.services.order_process  # type: ignore[attr-defined]
        assert (process is not None) == request.param.endswith("order-process")
        if process is not None:
            deadline = time.monotonic() + 120
            while not process.ready:  # until then the gateway writes here
                assert time.monotonic() < deadline, "the order process did not start"
                time.sleep(0.05)
            sent = process.sent
        yield ex
        if process is not None:
            assert process.sent > sent and process.ready  # the child wrote the orders


def test_exchange_journey(ex: Exchange) -> None:
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
    post = ex.client.post
    assert post(f"/markets/{COD}/orders", headers=seller,
                json={"side": "sell", "price": PRICE, "quantity": 30_000}).status_code == 201
    with ThreadPoolExecutor(max_workers=8) as pool:
        acks = list(pool.map(lambda n: post(
            f"/markets/{COD}/orders", headers=buyer,
            json={"order_id": f"b{n}", "side": "buy", "price": PRICE, "quantity": 1000}),
            range(8)))
    assert [a.status_code for a in acks] == [201] * 8
    assert {a.json()["fills"][0]["state"] for a in acks} == {"settled"}
    big = post(f"/markets/{COD}/orders", headers=buyer,
               json={"side": "buy", "kind": "market", "quantity": 10_000})
    assert big.status_code == 201, big.text
    (fill,) = big.json()["fills"]
    assert fill["state"] == "pending"
    approve = post(f"/trades/queue/{fill['trade']}/approve",
                   headers=ex.token("administrator", "chen.jie"))
    assert approve.status_code == 200, approve.text
    receipt = ex.client.get(f"/trades/{fill['trade']}/receipt", headers=buyer).json()
    record = verify_receipt(receipt, ex.client.get("/ledger/vkey").text.strip())
    assert record["payload"]["trade_id"] == fill["trade"]  # type: ignore[index]
    mine = ex.client.get("/trades", headers=buyer).json()
    assert mine["total"] == 9
    assert ex.client.get(f"/markets/{COD}/book", headers=buyer).json()["asks"] == [
        {"price": PRICE, "quantity": 12_000, "orders": 1}]
    cash = ex.registry.exchange.cash_account(ex.world.paper)
    assert (cash.balance, cash.reserved) == (100_000_000 - PRICE * 18, 0)
