"""Bulk order entry: orders and cancels of one account in one request, one save, an outcome
per item in order, idempotent as a whole, authorised like single orders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.schemas.markets import MAX_BULK, BulkOut
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange

BULK = f"/markets/{COD}/bulk-orders"


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def sell(order_id: str, quantity: int = 1000, price: int = PRICE) -> dict[str, Any]:
    return {"action": "order", "order_id": order_id, "side": "sell", "price": price,
            "quantity": quantity}


def stored(ex: Exchange) -> dict[str, Any]:
    """What the store holds of the market: its resting orders and the trades."""
    market = ex.registry.exchange.market(COD)
    return {"position": ex.registry.queries.position(), "book": repr(market.book)}


def test_each_item_answered_in_order_and_a_refused_item_leaves_the_others(ex: Exchange) -> None:
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
    saves = ex.client.app.state.registry_state.gateway.batches  # type: ignore[attr-defined]
    items = [sell("s1", 3000), sell("s2", 2000, PRICE * 2),  # outside the band: refused
             {"action": "cancel", "order_id": "nope"},  # no such order: refused
             sell("s3", 1000), {"action": "cancel", "order_id": "s3"}]
    r = ex.client.post(BULK, json={"items": items}, headers=seller)
    assert r.status_code == 201, r.text
    out = r.json()
    assert BulkOut.model_validate(out).model_dump() == out  # the documented shape, exactly
    assert (out["instrument"], out["account"]) == (COD, ex.world.dyeing)
    assert [(i["index"], i["order_id"], i["status"]) for i in out["items"]] == [
        (0, "s1", "accepted"), (1, "s2", "refused"), (2, "nope", "refused"),
        (3, "s3", "accepted"), (4, "s3", "cancelled")]
    assert (out["accepted"], out["refused"]) == (3, 2)
    band = out["items"][1]["problem"]
    assert band["status"] == 422 and band["type"].startswith("https://") and band["detail"]
    assert out["items"][2]["problem"]["status"] == 404
    assert out["items"][0]["resting"] == 3000 and out["items"][0]["problem"] is None
    assert ex.client.app.state.registry_state.gateway.batches == saves + 1  # type: ignore[attr-defined]  # one save
    book = ex.client.get(f"/markets/{COD}/book", headers=buyer).json()
    assert book["asks"] == [{"price": PRICE, "quantity": 3000, "orders": 1}]
    # a crossing bulk buy fills against it, each fill named as for a single order
    r = ex.client.post(BULK, json={"items": [
        {"action": "order", "order_id": "b1", "side": "buy", "kind": "market",
         "quantity": 2000}]}, headers=buyer)
    assert r.status_code == 201, r.text
    assert BulkOut.model_validate(r.json()).model_dump() == r.json()
    fills = r.json()["items"][0]["fills"]
    assert [{k: v for k, v in f.items() if k != "ledger"} for f in fills] == [
        {"trade": f"{COD}:1", "price": PRICE, "quantity": 2000, "state": "settled"}]
    # the entry's batch leaf, and each fill's trade in it with the trade's own receipt
    batch = r.json()["ledger"]
    assert batch["event"] == "BatchMatched" and batch["subject"] == COD
    assert fills[0]["ledger"]["subject"] == f"{COD}:1"
    assert fills[0]["ledger"]["ledger_index"] == batch["ledger_index"]
    receipt = ex.client.get(fills[0]["ledger"]["receipt"], headers=buyer)
    assert receipt.status_code == 200, receipt.text
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == 100_000_000 - PRICE * 2


def test_a_retry_with_its_key_answers_the_stored_response(ex: Exchange) -> None:
    seller = {**ex.enterprise(ex.world.dyeing), "Idempotency-Key": "bulk-1"}
    body = {"items": [sell("k1"), sell("k2")]}
    first = ex.client.post(BULK, json=body, headers=seller)
    assert first.status_code == 201, first.text
    before = stored(ex)
    again = ex.client.post(BULK, json=body, headers=seller)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert stored(ex) == before
    other = ex.client.post(BULK, json={"items": [sell("k3")]}, headers=seller)
    assert other.status_code == 422  # the same key with another body


def test_authorised_like_single_orders(ex: Exchange) -> None:
    body = {"items": [sell("a1")]}
    before = stored(ex)
    assert ex.client.post(BULK, json=body).status_code == 401
    other = ex.client.post(BULK, json={**body, "account": ex.world.dyeing},
                           headers=ex.enterprise(ex.world.paper))
    assert other.status_code == 404  # another enterprise's account: not found
    agency = ex.client.post(BULK, json=body, headers=ex.token("agency", ex.world.auditor))
    assert agency.status_code == 403
    admin = ex.token("administrator", "wang.fang")
    assert ex.client.post(BULK, json=body, headers=admin).status_code == 422  # names no account
    assert stored(ex) == before
    r = ex.client.post(BULK, json={**body, "account": ex.world.dyeing}, headers=admin)
    assert r.status_code == 201 and r.json()["account"] == ex.world.dyeing


@pytest.mark.parametrize("body", [
    {"items": []},  # nothing to do
    {"items": [sell(f"m{i}") for i in range(MAX_BULK + 1)]},  # over the bound
    {"items": [sell("m1"), {"action": "order", "side": "sell", "price": 1.5,
                            "quantity": 1000}]},  # a float price
    {"items": [sell("m1"), {"action": "amend", "order_id": "m1"}]},  # not an item kind
    {"items": [{**sell("m1"), "account": "91440300MA5DC0WW2X"}]},  # the account per item
    {"items": [sell("m1")], "extra": 1},
])
def test_a_malformed_entry_is_refused_whole_and_changes_nothing(ex: Exchange,
                                                                 body: dict[str, Any]) -> None:
    before = stored(ex)
    r = ex.client.post(BULK, json=body, headers=ex.enterprise(ex.world.dyeing))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert stored(ex) == before


def test_the_bound_is_accepted_in_one_save(ex: Exchange) -> None:
    gateway = ex.client.app.state.registry_state.gateway  # type: ignore[attr-defined]
    saves = gateway.batches
    # five rounds of 100 t offered and withdrawn: the 100 t Dyeing holds, 1,000 items
    rounds = MAX_BULK // 200
    items = [item for r in range(rounds) for item in (
        [sell(f"n{r}-{i}") for i in range(100)]
        + [{"action": "cancel", "order_id": f"n{r}-{i}"} for i in range(100)])]
    r = ex.client.post(BULK, json={"items": items}, headers=ex.enterprise(ex.world.dyeing))
    assert r.status_code == 201, r.text
    assert r.json()["items"][0]["problem"] is None, r.json()["items"][0]
    assert r.json()["accepted"] == MAX_BULK and gateway.batches == saves + 1


def test_documented_in_openapi(ex: Exchange) -> None:
    doc = ex.client.get("/openapi.json").json()
    op = doc["paths"]["/markets/{instrument}/bulk-orders"]["post"]
    assert "BulkIn" in str(op["requestBody"]) and "201" in op["responses"]
