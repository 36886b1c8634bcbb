"""The second representative over HTTP: inside an enterprise, an agreement out of its account
takes effect only when a different representative of the same enterprise confirms it; the
requirement is on by default, and switching it off takes two representatives too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from registry.events import stored_events
from registry.seed_users import founders
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange

PROBLEM = "application/problem+json"


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def reserved(ex: Exchange, who: str) -> int:
    (row,) = [b for b in ex.registry.queries.balances(enterprise=who) if b["instrument"] == COD]
    return int(row["reserved"])


def request_offer(ex: Exchange, reference: str = "AG-R1", qty: int = 2000) -> Any:
    return ex.client.post("/agreements", headers=ex.enterprise(ex.world.dyeing),
                          json={"reference": reference, "instrument": COD,
                                "buyer": ex.world.paper, "price": PRICE, "quantity": qty})


def path(ex: Exchange, request_id: str, verb: str = "") -> str:
    return f"/enterprises/{ex.world.dyeing}/requests/{request_id}" + (f"/{verb}" if verb else "")


def problem(r: Any, status: int, kind: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM and r.json()["type"].endswith("/" + kind)


def payloads(ex: Exchange, topic_part: str) -> list[dict[str, Any]]:
    """The stored payloads of the events whose class is ``Aggregate.Event``."""
    aggregate, name = topic_part.split(".")
    return [vars(e) for _, e in stored_events(ex.registry)
            if type(e).__name__ == name and type(e).__qualname__.startswith(aggregate)]


def test_an_offer_waits_for_a_second_representative_and_names_both(ex: Exchange) -> None:
    dyeing = ex.world.dyeing
    r = request_offer(ex)
    assert r.status_code == 202, r.text
    request = r.json()
    assert (request["action"], request["enterprise"], request["state"]) == (
        "offer_agreement", dyeing, "pending")
    assert reserved(ex, dyeing) == 0  # nothing is held for a request
    assert ex.client.get("/agreements/AG-R1", headers=ex.enterprise(dyeing)).status_code == 404
    pending = ex.client.get(f"/enterprises/{dyeing}/requests", params={"state": "pending"},
                            headers=ex.representative(dyeing)).json()
    assert [p["id"] for p in pending["items"]] == [request["id"]]
    headers = [ex.representative(ex.world.paper), ex.token("administrator", "gdee-li")]
    before = ex.registry.queries.position()  # (the tokens above are minted, events of their own)
    assert headers
    # the requester itself: four eyes by user id
    problem(ex.client.post(path(ex, request["id"], "confirm"), headers=ex.enterprise(dyeing)),
            403, "four-eyes-violation")
    # an administrator is no representative of the enterprise
    problem(ex.client.post(path(ex, request["id"], "confirm"),
                           headers=ex.token("administrator", "gdee-li")), 403, "forbidden")
    # another enterprise's representative: neither the path nor the request is its own
    paper_rep = ex.representative(ex.world.paper)
    problem(ex.client.post(path(ex, request["id"], "confirm"), headers=paper_rep),
            404, "not-found")
    problem(ex.client.post(f"/enterprises/{ex.world.paper}/requests/{request['id']}/confirm",
                           headers=paper_rep), 404, "not-found")
    assert ex.registry.queries.position() == before  # none of it wrote anything
    r = ex.confirm(r, dyeing)
    assert r.status_code == 200, r.text
    assert r.json()["request"]["state"] == "approved"
    second = ex.registry.users.user_by_login(f"rep.{dyeing.lower()}").user_id
    assert r.json()["request"]["decided_by"] == second
    agreement = ex.client.get("/agreements/AG-R1", headers=ex.enterprise(dyeing)).json()
    assert agreement["state"] == "offered" and agreement["offered_by"] == request["proposed_by"]
    assert reserved(ex, dyeing) == 2000
    (offered,) = payloads(ex, "Agreement.Offered")
    assert (offered["actor"], offered["approved_by"]) == (request["proposed_by"], second)
    approved = [p for p in payloads(ex, "Proposal.Approved") if p["by"] == second]
    assert approved and approved[0]["actor"] == second
    problem(ex.client.post(path(ex, request["id"], "confirm"),
                           headers=ex.representative(dyeing)), 409, "invalid-state")


def test_a_rejected_or_withdrawn_request_moves_nothing(ex: Exchange) -> None:
    dyeing = ex.world.dyeing
    first = request_offer(ex, "AG-R2").json()
    problem(ex.client.post(path(ex, first["id"], "reject"), headers=ex.enterprise(dyeing),
                           json={"reason": "mine"}), 403, "four-eyes-violation")
    r = ex.client.post(path(ex, first["id"], "reject"), headers=ex.representative(dyeing),
                       json={"reason": "the price is below our board's floor"})
    assert r.status_code == 200 and r.json()["state"] == "rejected", r.text
    problem(ex.client.post(path(ex, first["id"], "confirm"), headers=ex.representative(dyeing)),
            409, "invalid-state")
    other = request_offer(ex, "AG-R3").json()
    problem(ex.client.post(path(ex, other["id"], "withdraw"),
                           headers=ex.representative(dyeing)), 403, "four-eyes-violation")
    r = ex.client.post(path(ex, other["id"], "withdraw"), headers=ex.enterprise(dyeing))
    assert r.status_code == 200 and r.json()["state"] == "withdrawn", r.text
    assert reserved(ex, dyeing) == 0
    for ref in ("AG-R2", "AG-R3"):
        assert ex.client.get(f"/agreements/{ref}",
                             headers=ex.enterprise(dyeing)).status_code == 404


def test_a_request_expires_and_a_refused_confirmation_leaves_it_pending(ex: Exchange) -> None:
    dyeing, registry = ex.world.dyeing, ex.registry
    r = request_offer(ex, "AG-R4", qty=60_000)
    assert r.status_code == 202, r.text
    # meanwhile the units go elsewhere: the confirmation re-runs every check and is refused
    assert ex.client.post(f"/holdings/{dyeing}/reservations", headers=ex.enterprise(dyeing),
                          json={"instrument": COD, "quantity": 50_000,
                                "ref": "LISTING-1"}).status_code == 201
    refused = ex.confirm(r, dyeing)
    problem(refused, 409, "insufficient-holdings")
    assert registry.proposals.proposal(r.json()["id"]).state == "pending"
    # a week later it has expired: the job records it, and it can no longer be confirmed
    expires = r.json()["expires_at"]
    assert registry.proposals.expire_proposals(at=expires) >= 1
    (expired,) = payloads(ex, "Proposal.Expired")
    assert expired["actor"] == "system:proposal-expiry"
    assert registry.proposals.proposal(r.json()["id"]).state == "expired"
    problem(ex.confirm(r, dyeing), 409, "invalid-state")


def test_switching_the_requirement_off_takes_two_representatives(ex: Exchange) -> None:
    dyeing = ex.world.dyeing
    setting = f"/enterprises/{dyeing}/second-representative"
    assert ex.client.get(setting, headers=ex.enterprise(dyeing)).json() == {
        "enterprise": dyeing, "required": True}
    problem(ex.client.put(setting, headers=ex.token("administrator", "gdee-li"),
                          json={"required": False}), 403, "forbidden")
    problem(ex.client.put(setting, headers=ex.enterprise(ex.world.paper),
                          json={"required": False}), 404, "not-found")
    r = ex.client.put(setting, headers=ex.enterprise(dyeing), json={"required": False})
    assert r.status_code == 202 and r.json()["action"] == "set_second_representative", r.text
    assert ex.registry.enterprise(dyeing).needs_second_representative
    r = ex.confirm(r, dyeing)
    assert r.status_code == 200 and r.json()["result"] is False, r.text
    assert ex.client.get(setting, headers=ex.enterprise(dyeing)).json()["required"] is False
    (changed,) = payloads(ex, "Enterprise.SecondRepresentativeSet")
    second = ex.registry.users.user_by_login(f"rep.{dyeing.lower()}").user_id
    assert changed["required"] is False and changed["approved_by"] == second
    # now one representative's offer is made at once; exchange orders never needed more
    r = request_offer(ex, "AG-R5")
    assert r.status_code == 201 and r.json()["state"] == "offered", r.text
    # switching it back on is one representative's act, at once
    r = ex.client.put(setting, headers=ex.representative(dyeing), json={"required": True})
    assert r.status_code == 200 and r.json()["required"] is True, r.text
    assert request_offer(ex, "AG-R6").status_code == 202


def test_only_a_representative_offers_or_confirms(ex: Exchange) -> None:
    """A trader without the representative role neither requests an agreement nor confirms."""
    dyeing, registry = ex.world.dyeing, ex.registry
    at = datetime.now(UTC).isoformat()
    admin, _ = founders(registry, at)
    trader = registry.users.create_user(login="desk.only", display_name="Desk trader",
                                        organisation="enterprise", organisation_code=dyeing,
                                        roles=["trader"], by=admin, at=at)
    _, secret = registry.users.issue_token(user_id=trader.user_id, by=trader.user_id, at=at, days=1)
    desk = {"Authorization": f"Bearer {secret}"}
    problem(ex.client.post("/agreements", headers=desk,
                           json={"reference": "AG-R7", "instrument": COD,
                                 "buyer": ex.world.paper, "price": PRICE, "quantity": 1000}),
            403, "forbidden")
    r = request_offer(ex, "AG-R8")
    problem(ex.client.post(path(ex, r.json()["id"], "confirm"), headers=desk), 403, "forbidden")
    assert registry.proposals.proposal(r.json()["id"]).state == "pending"
