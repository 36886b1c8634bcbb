"""Agreement transfers over HTTP: offer to a named buyer, acceptance, four-eyes verification,
delivery-versus-payment, release on withdrawal, and a verifiable receipt."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry import receipts
from tests.api.test_trades import verify_receipt
from tests.support.exchange_world import COD, Exchange, open_exchange

START = 100_000_000
PRICE = 750_000  # fen per tonne


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def cod(ex: Exchange, who: str) -> dict[str, int]:
    (row,) = [b for b in ex.registry.queries.balances(enterprise=who) if b["instrument"] == COD]
    return row


def offer(ex: Exchange, reference: str = "AG-1", qty: int = 4000):  # type: ignore[no-untyped-def]
    """Dyeing's representative offers; its second representative confirms. Answers the
    refusal, or the agreement as ``GET /agreements/{reference}`` shows it once confirmed."""
    r = ex.client.post("/agreements", headers=ex.enterprise(ex.world.dyeing),
                       json={"reference": reference, "instrument": COD,
                             "buyer": ex.world.paper, "price": PRICE, "quantity": qty})
    if r.status_code != 202:
        return r
    confirmed = ex.confirm(r, ex.world.dyeing)
    assert confirmed.status_code == 200, confirmed.text
    return ex.client.get(f"/agreements/{reference}", headers=ex.enterprise(ex.world.dyeing))


def test_offer_accept_verify_settles_and_the_receipt_verifies(ex: Exchange) -> None:
    r = offer(ex)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "offered" and r.json()["amount"] == PRICE * 4
    assert cod(ex, ex.world.dyeing)["reserved"] == 4000
    paper = ex.enterprise(ex.world.paper)
    assert ex.client.post("/agreements/AG-1/accept",
                          headers=ex.enterprise(ex.world.dyeing)).status_code == 403
    r = ex.client.post("/agreements/AG-1/accept", headers=paper)
    assert r.status_code == 200, r.text
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == PRICE * 4
    assert ex.client.post("/agreements/AG-1/verify", headers=paper).status_code == 403
    r = ex.client.post("/agreements/AG-1/verify", headers=ex.token("administrator", "chen.jie"))
    assert r.status_code == 200, r.text
    assert [h["state"] for h in r.json()["history"]] == ["offered", "accepted", "settled"]
    cash = ex.registry.exchange.cash_account(ex.world.paper)
    assert (cash.balance, cash.reserved) == (START - PRICE * 4, 0)
    assert ex.registry.exchange.cash_account(ex.world.dyeing).balance == START + PRICE * 4
    assert cod(ex, ex.world.paper)["available"] == 4000
    receipt = ex.client.get("/agreements/AG-1/receipt", headers=paper).json()
    assert receipt["event"] == "Settled"
    record = verify_receipt(receipt, ex.client.get("/ledger/vkey").text.strip())
    assert record["topic"] == "surplus:Agreement.Settled.v1"
    assert record["position"] == receipt["position"]
    # Settled's payload names no agreement; the leaf's typed subject does (from its creation)
    assert {"type": "agreement", "id": "AG-1"} in record["subjects"]  # type: ignore[operator]
    receipts.verify_receipt(receipt, vkey=ex.client.get("/ledger/vkey").text.strip(),
                            subject="AG-1", subject_type="agreement", event="Settled")


def test_the_verifier_must_not_have_taken_part(ex: Exchange) -> None:
    admin = ex.token("administrator", "zhao.min")
    r = ex.client.post("/agreements", headers=admin,
                       json={"reference": "AG-2", "instrument": COD, "seller": ex.world.dyeing,
                             "buyer": ex.world.paper, "price": PRICE, "quantity": 1000})
    assert r.status_code == 201, r.text
    assert r.json()["offered_by"] == ex.registry.users.user_by_login("zhao.min").user_id
    assert ex.client.post("/agreements/AG-2/accept",
                          headers=ex.enterprise(ex.world.paper)).status_code == 200
    r = ex.client.post("/agreements/AG-2/verify", headers=admin)
    assert r.status_code == 403 and r.json()["type"].endswith("/four-eyes-violation")
    assert ex.registry.exchange_modes.agreement("AG-2").state == "accepted"


def test_withdrawal_and_rejection_release_everything(ex: Exchange) -> None:
    offer(ex, "AG-3")
    seller = ex.enterprise(ex.world.dyeing)
    assert ex.client.post("/agreements/AG-3/withdraw", headers=ex.enterprise(ex.world.paper),
                          json={"reason": "no"}).status_code == 403
    r = ex.client.post("/agreements/AG-3/withdraw", headers=seller,
                       json={"reason": "sold elsewhere"})
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert cod(ex, ex.world.dyeing)["reserved"] == 0
    offer(ex, "AG-4")
    ex.client.post("/agreements/AG-4/accept", headers=ex.enterprise(ex.world.paper))
    r = ex.client.post("/agreements/AG-4/reject", headers=ex.token("administrator", "a"),
                       json={"reason": "price far from the market"})
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert ex.registry.exchange.cash_account(ex.world.paper).reserved == 0
    assert cod(ex, ex.world.dyeing)["reserved"] == 0
    mine = ex.client.get("/agreements", headers=seller, params={"state": "rejected"}).json()
    assert [a["reference"] for a in mine["items"]] == ["AG-4"]


def test_others_see_nothing_and_bad_offers_write_nothing(ex: Exchange) -> None:
    offer(ex, "AG-5")
    power = ex.enterprise(ex.world.power)
    assert ex.client.get("/agreements/AG-5", headers=power).status_code == 404
    assert ex.client.get("/agreements/AG-5/receipt", headers=power).status_code == 404
    assert ex.client.post("/agreements/AG-5/accept", headers=power).status_code == 404
    assert ex.client.get("/agreements", headers=power).json()["items"] == []
    assert ex.client.get("/agreements").status_code == 401
    assert offer(ex, "AG-5").status_code == 409  # the reference is taken
    for bad in ({"quantity": 1.5}, {"price": 0}, {"buyer": "nope"}, {"surprise": 1}):
        body = {"reference": "AG-6", "instrument": COD, "buyer": ex.world.paper,
                "price": PRICE, "quantity": 1000, **bad}
        r = ex.client.post("/agreements", headers=ex.enterprise(ex.world.dyeing), json=body)
        assert r.status_code == 422, bad
    r = ex.client.post("/agreements", headers=ex.enterprise(ex.world.dyeing),
                       json={"reference": "AG-7", "instrument": COD, "buyer": ex.world.paper,
                             "price": PRICE, "quantity": 10**9})
    assert r.status_code == 409  # more than it holds: refused at the request already
    assert cod(ex, ex.world.dyeing)["reserved"] == 4000  # AG-5 only
    assert ex.registry.proposals.enterprise_requests(enterprise=ex.world.dyeing,
                                                     state="pending") == []
    r = ex.client.post("/agreements", headers=ex.enterprise(ex.world.dyeing),
                       json={"reference": "AG-8", "instrument": COD, "buyer": ex.world.power,
                             "price": PRICE, "quantity": 1000})
    assert r.status_code == 422 and r.json()["type"].endswith("/outside-trading-zone")


def test_a_state_filter_lists_what_the_unfiltered_list_has_in_that_state(ex: Exchange) -> None:
    """``?state=`` loads only the agreements in that state (`registry.pending`): the same ones,
    in the same order, as filtering the whole list."""
    seller, buyer = ex.enterprise(ex.world.dyeing), ex.enterprise(ex.world.paper)
    admin = ex.token("administrator", "a")

    def check() -> None:
        every = ex.client.get("/agreements", headers=admin).json()["items"]
        for state in ("offered", "accepted", "withdrawn", "rejected", "settled"):
            got = ex.client.get("/agreements", headers=admin, params={"state": state}).json()
            assert [a["reference"] for a in got["items"]] == \
                [a["reference"] for a in every if a["state"] == state]

    for n in range(1, 5):
        offer(ex, f"AG-{n}", qty=1000)
        check()
    ex.client.post("/agreements/AG-1/withdraw", headers=seller, json={"reason": "no"})
    check()
    for ref in ("AG-2", "AG-3"):
        assert ex.client.post(f"/agreements/{ref}/accept", headers=buyer).status_code == 200
        check()
    ex.client.post("/agreements/AG-3/reject", headers=admin, json={"reason": "price"})
    check()
    states = {a["reference"]: a["state"]
              for a in ex.client.get("/agreements", headers=admin).json()["items"]}
    assert states == {"AG-1": "withdrawn", "AG-2": "accepted", "AG-3": "rejected",
                      "AG-4": "offered"}
