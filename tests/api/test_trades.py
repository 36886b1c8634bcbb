"""Trades over HTTP: own trades only, the verification queue with four eyes, and receipts that
verify with nothing but the ledger's verifier key."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.checkpoint import verify_checkpoint
from ledger.merkle import VerificationError, hash_leaf, verify_inclusion
from registry import receipts
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange

THRESHOLD = 1_000_000  # fen: a 2 t trade at 8,000 CNY/t (1,600,000 fen) waits for approval
START = 100_000_000


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path, verify_above=THRESHOLD)


def trade(ex: Exchange, qty: int, *, buyer_by_admin: str | None = None) -> str:
    """Dyeing sells, Paper buys ``qty`` kg (entered by an administrator if named)."""
    seller = ex.enterprise(ex.world.dyeing)
    r = ex.client.post(f"/markets/{COD}/orders", headers=seller,
                       json={"side": "sell", "price": PRICE, "quantity": qty})
    assert r.status_code == 201, r.text
    if buyer_by_admin:
        headers, body = ex.token("administrator", buyer_by_admin), {"account": ex.world.paper}
    else:
        headers, body = ex.enterprise(ex.world.paper), {}
    r = ex.client.post(f"/markets/{COD}/orders", headers=headers,
                       json={"side": "buy", "price": PRICE, "quantity": qty, **body})
    assert r.status_code == 201, r.text
    (fill,) = r.json()["fills"]
    return str(fill["trade"])


def test_a_large_trade_waits_and_four_eyes_decide_who_may_approve(ex: Exchange) -> None:
    trade_id = trade(ex, 2000, buyer_by_admin="zhao.min")
    auditor = ex.token("auditor", "li.wei")
    (queued,) = ex.client.get("/trades/queue", headers=auditor).json()["items"]
    assert queued["trade"] == trade_id and queued["reasons"] == ["above-threshold"]
    zhao = ex.registry.users.user_by_login("zhao.min").user_id
    seller = ex.registry.users.user_by_login(f"trader.{ex.world.dyeing.lower()}").user_id
    assert {zhao, seller} <= set(queued["initiators"])  # by user id, never by a name
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == PRICE * 2
    for initiator in ("zhao.min",):  # entered the buy order
        r = ex.client.post(f"/trades/queue/{trade_id}/approve",
                           headers=ex.token("administrator", initiator))
        assert r.status_code == 403, r.text
        assert r.json()["type"].endswith("/four-eyes-violation")
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == START
    r = ex.client.post(f"/trades/queue/{trade_id}/approve",
                       headers=ex.token("administrator", "chen.jie"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "settled"
    paper = ex.registry.exchange.cash_account(ex.world.paper)
    assert (paper.balance, paper.reserved) == (START - PRICE * 2, 0)
    assert ex.client.get("/trades/queue", headers=auditor).json()["items"] == []
    again = ex.client.post(f"/trades/queue/{trade_id}/approve",
                           headers=ex.token("administrator", "chen.jie"))
    assert again.status_code == 404


def test_rejection_releases_the_reservations(ex: Exchange) -> None:
    settled = trade(ex, 1000)  # below the threshold
    trade_id = trade(ex, 3000)
    admin = ex.token("administrator", "admin-1")  # may reject even as an initiator
    assert ex.client.post(f"/trades/queue/{trade_id}/reject", headers=admin,
                          json={"reason": ""}).status_code == 422
    r = ex.client.post(f"/trades/queue/{trade_id}/reject", headers=admin,
                       json={"reason": "price far from the day's trades"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "rejected"
    paper = ex.registry.exchange.cash_account(ex.world.paper)
    assert (paper.balance, paper.reserved) == (START - PRICE, 0)
    (bar,) = ex.client.get(f"/markets/{COD}/history", headers=admin).json()["items"]
    assert (bar["quantity"], bar["trades"]) == (1000, 1)  # a rejected trade is not a price
    public = ex.client.get(f"/markets/{COD}/trades", headers=admin).json()["items"]
    assert [t["trade"] for t in public] == [settled]
    balances = ex.registry.queries.balances(enterprise=ex.world.dyeing)
    (cod,) = [b for b in balances if b["instrument"] == COD]
    assert cod["reserved"] == 0


def test_queue_actions_need_an_administrator(ex: Exchange) -> None:
    trade_id = trade(ex, 2000)
    paper = ex.enterprise(ex.world.paper)
    assert ex.client.get("/trades/queue", headers=paper).status_code == 403
    assert ex.client.post(f"/trades/queue/{trade_id}/approve", headers=paper).status_code == 403
    auditor = ex.token("auditor", "li.wei")
    assert ex.client.post(f"/trades/queue/{trade_id}/reject", headers=auditor,
                          json={"reason": "no"}).status_code == 403
    assert ex.client.post(f"/trades/queue/{trade_id}/approve").status_code == 401
    assert ex.client.post("/trades/queue/not-a-trade/approve",
                          headers=ex.token("administrator", "chen.jie")).status_code == 422
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == PRICE * 2


def test_an_enterprise_sees_its_own_trades_only(ex: Exchange) -> None:
    trade_id = trade(ex, 1000)  # below the threshold: settles at once
    paper, power = ex.enterprise(ex.world.paper), ex.enterprise(ex.world.power)
    mine = ex.client.get("/trades", headers=paper).json()
    assert [t["trade"] for t in mine["items"]] == [trade_id]
    assert mine["items"][0]["buyer"] == ex.world.paper
    assert mine["items"][0]["state"] == "settled"
    assert ex.client.get("/trades", headers=power).json()["items"] == []
    assert ex.client.get(f"/trades/{trade_id}", headers=power).status_code == 404
    assert ex.client.get(f"/trades/{trade_id}/receipt", headers=power).status_code == 404
    assert ex.client.get("/trades", headers=power,
                         params={"account": ex.world.paper}).status_code == 404
    assert ex.client.get(f"/trades/{trade_id}", headers=paper).status_code == 200


def verify_receipt(receipt: dict[str, object], vkey: str) -> dict[str, object]:
    """What an owner does with a receipt, holding nothing but the verifier key."""
    cp = verify_checkpoint(note=str(receipt["checkpoint"]), vkey=vkey)
    proof = receipt["proof"]
    assert isinstance(proof, dict) and proof["size"] == cp.size
    leaf = base64.b64decode(str(receipt["leaf"]))
    verify_inclusion(index=int(proof["index"]), size=cp.size, leaf_hash=hash_leaf(leaf),
                     proof=[base64.b64decode(h) for h in proof["hashes"]], root=cp.root)
    record: dict[str, object] = json.loads(leaf)
    return record


def test_receipts_verify_with_the_verifier_key_alone(ex: Exchange) -> None:
    settled = trade(ex, 1000)
    waited = trade(ex, 2000)
    vkey = ex.client.get("/ledger/vkey").text.strip()
    for who in (ex.world.paper, ex.world.dyeing):
        r = ex.client.get(f"/trades/{settled}/receipt", headers=ex.enterprise(who))
        assert r.status_code == 200, r.text
        receipt = r.json()
        assert receipt["event"] == "BatchMatched"
        record = verify_receipt(receipt, vkey)
        assert record["position"] == receipt["position"]
        assert record["topic"] == "surplus:Market.BatchMatched.v1"
        assert {"type": "trade", "id": settled, "parts": ["trades/0"]} in record["subjects"]
        assert (receipt["subject_type"], receipt["subject"]) == ("trade", settled)
        checked = receipts.verify_receipt(receipt, vkey=vkey, subject=settled,
                                          subject_type="trade", event="BatchMatched")
        assert checked.disclosed["trades/0"][0] == settled
        assert list(receipt["disclosed"]) == ["trades/0"]
        # nothing of the batch's orders (accounts, order ids, prices) is in the leaf itself
        leaf_text = base64.b64decode(receipt["leaf"]).decode()
        for party in (ex.world.paper, ex.world.dyeing):
            assert party not in leaf_text
    ex.client.post(f"/trades/queue/{waited}/approve",
                   headers=ex.token("administrator", "chen.jie"))
    receipt = ex.client.get(f"/trades/{waited}/receipt",
                            headers=ex.enterprise(ex.world.paper)).json()
    assert receipt["event"] == "TradeApproved"
    record = verify_receipt(receipt, vkey)
    assert record["payload"]["trade_id"] == waited  # type: ignore[index]
    receipts.verify_receipt(receipt, vkey=vkey, subject=waited, event="TradeApproved")
    with pytest.raises(receipts.ReceiptError, match="records TradeApproved, not BatchMatched"):
        receipts.verify_receipt(receipt, vkey=vkey, subject=waited, event="BatchMatched")
    tampered = dict(receipt, leaf=base64.b64encode(b'{"forged":1}').decode())
    with pytest.raises(VerificationError):
        verify_receipt(tampered, vkey)


def test_the_annual_report_traces_exchange_trades_to_receipts(ex: Exchange) -> None:
    """The §19 report counts a settled exchange trade as sold and bought, at the batch's
    settlement event, and shows the rights the settlement amended; every position it cites
    has a ledger receipt an auditor verifies with the verifier key alone."""
    trade(ex, 1000)
    vkey = ex.client.get("/ledger/vkey").text.strip()
    auditor = ex.token("auditor", "li.wei")
    for who, figure in ((ex.world.dyeing, "sold"), (ex.world.paper, "bought")):
        report = ex.client.get(f"/reports/{who}/2025/compliance", headers=auditor).json()
        (cod,) = [r for r in report["rows"] if r["kind"] == "COD"]
        assert cod[figure]["amount"] == 1000
        right = ex.registry.rights.right_or_none(who, "COD")  # the buyer here holds none
        cited = list(cod[figure]["positions"])
        if right is not None:
            assert cod["confirmed_right"]["amount"] == right.quantity
            cited.append(cod["confirmed_right"]["positions"][-1])
        events = []
        for position in cited:
            r = ex.client.get(f"/ledger/receipts/{position}", headers=auditor)
            assert r.status_code == 200, r.text
            events.append(verify_receipt(r.json(), vkey)["topic"])
        assert events[0] == "surplus:Instrument.BatchSettled.v1"
        if right is not None:
            assert events[-1] == "surplus:ConfirmedRight.SettledOnExchange.v1"
