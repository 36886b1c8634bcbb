"""The bypasses an outside tester found (issue 12), each as a named test over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.errors import FourEyesViolation, NotFound, PermissionDenied
from registry.events import stored_events
from registry.representatives import SecondRepresentativeRequired
from tests.support.exchange_world import COD, PRICE, Exchange, open_exchange

PROBLEM = "application/problem+json"


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Exchange]:
    yield from open_exchange(tmp_path)


def test_an_administrator_cannot_mint_a_token_under_a_free_text_name(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    for body in ({"role": "administrator", "name": "wang.fang-alias"},
                 {"role": "agency", "agency": ex.world.auditor}):
        r = ex.client.post("/tokens", headers=admin, json=body)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    r = ex.client.post("/tokens", headers=admin, json={"user": "nobody.at.all"})
    assert r.status_code == 404


def test_an_administrator_cannot_obtain_a_colleagues_credential(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    ex.token("administrator", "chen.jie")
    r = ex.client.post("/tokens", headers=admin, json={"user": "chen.jie"})
    assert r.status_code == 403 and r.json()["type"].endswith("/forbidden"), r.text


def test_an_administrator_issued_token_is_recorded_on_what_it_does(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    login = f"trader.{ex.world.paper.lower()}"
    issued = ex.client.post("/tokens", headers=admin, json={"user": login})
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    wang = ex.registry.users.user_by_login("wang.fang").user_id
    assert issued.json()["issued_by"] == wang
    headers = {"Authorization": f"Bearer {issued.json()['secret']}"}
    r = ex.client.post(f"/holdings/{ex.world.paper}/reservations", headers=headers,
                       json={"instrument": "COD-2025-MAOZHOU", "quantity": 0, "ref": "X"})
    assert r.status_code in (201, 409, 422)
    last = [e for _, e in stored_events(ex.registry)][-1]
    if type(last).__name__ != "TokenIssued":
        assert last.__dict__["token_issued_by"] == wang


def test_one_administrator_alone_cannot_deposit_cash(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    before = ex.registry.exchange.cash_account(ex.world.paper).balance
    r = ex.client.post(f"/cash/{ex.world.paper}/deposits", headers=admin,
                       json={"amount": 60_000_000, "reference": "SELF-1"})
    assert r.status_code == 202
    mine = ex.client.post(f"/proposals/{r.json()['id']}/approve", headers=admin)
    assert mine.status_code == 403 and mine.json()["type"].endswith("/four-eyes-violation")
    assert ex.registry.exchange.cash_account(ex.world.paper).balance == before


def test_rate_limits_key_on_the_user_not_the_header_spelling(tmp_path: Path) -> None:
    env = {"REGISTRY_RATE_LIMIT": "3/hour"}
    for ex in open_exchange(tmp_path, store=env):
        secret = ex.token("auditor", "li.wei")["Authorization"].split(" ", 1)[1]
        codes = [ex.client.get("/markets", headers={"Authorization": f"{scheme} {secret}"}
                               ).status_code
                 for scheme in ("Bearer", "bearer", "BEARER", "BeArEr")]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429


def test_random_invalid_tokens_are_limited(tmp_path: Path) -> None:
    for ex in open_exchange(tmp_path, store={"REGISTRY_BAD_TOKEN_LIMIT": "5/hour"}):
        codes = [ex.client.get("/markets", headers={"Authorization": f"Bearer guess-{n}"}
                               ).status_code for n in range(8)]
        assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}


def test_failed_logins_are_limited_per_login(ex: Exchange) -> None:
    body = {"login": "wang.fang", "password": "not the password", "totp": "123456"}
    codes = [ex.client.post("/login", json=body).status_code for _ in range(7)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}


def test_an_administrator_logs_in_with_a_password_and_a_one_time_code(ex: Exchange) -> None:
    from datetime import UTC, datetime

    import pyotp

    admin = ex.registry.users.user_by_login("wang.fang")
    ex.registry.users.set_password(user_id=admin.user_id, password="a long passphrase!",
                                   by=admin.user_id, at=datetime.now(UTC).isoformat())
    secret = ex.registry.users.enroll_second_factor(user_id=admin.user_id, by=admin.user_id,
                                                    at=datetime.now(UTC).isoformat())
    no_code = ex.client.post("/login", json={"login": "wang.fang",
                                             "password": "a long passphrase!"})
    assert no_code.status_code == 401
    ok = ex.client.post("/login", json={"login": "wang.fang", "password": "a long passphrase!",
                                        "totp": pyotp.TOTP(secret).now()})
    assert ok.status_code == 201, ok.text
    token = ok.json()["secret"]
    me = ex.client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == admin.user_id and token.startswith(admin.user_id + ".")


def test_one_representative_alone_cannot_move_units_out(ex: Exchange) -> None:
    """The offer is a request; nothing is reserved, and the registry itself refuses the offer
    without a second representative (no route around the request)."""
    dyeing = ex.world.dyeing
    r = ex.client.post("/agreements", headers=ex.enterprise(dyeing),
                       json={"reference": "AG-ALONE", "instrument": COD,
                             "buyer": ex.world.paper, "price": PRICE, "quantity": 5000})
    assert r.status_code == 202, r.text
    assert ex.client.post(f"/enterprises/{dyeing}/requests/{r.json()['id']}/confirm",
                          headers=ex.enterprise(dyeing)).status_code == 403
    assert ex.client.put(f"/enterprises/{dyeing}/second-representative",
                         headers=ex.enterprise(dyeing),
                         json={"required": False}).status_code == 202  # a request too
    assert ex.registry.enterprise(dyeing).needs_second_representative
    (row,) = [b for b in ex.registry.queries.balances(enterprise=dyeing) if b["instrument"] == COD]
    assert row["reserved"] == 0
    me = ex.registry.users.user_by_login(f"trader.{dyeing.lower()}").user_id
    with pytest.raises(SecondRepresentativeRequired):
        ex.registry.exchange_modes.offer_agreement(reference="AG-ALONE", instrument=COD,
                                                   seller=dyeing, buyer=ex.world.paper, price=PRICE,
                                                   qty=5000, offered_by=me,
                                                   at="2025-06-01T10:00:00+08:00")
    with pytest.raises(FourEyesViolation):  # naming itself as its own second representative
        ex.registry.exchange_modes.offer_agreement(reference="AG-ALONE", instrument=COD,
                                                   seller=dyeing, buyer=ex.world.paper, price=PRICE,
                                                   qty=5000, offered_by=me, confirmed_by=me,
                                                   at="2025-06-01T10:00:00+08:00")
    with pytest.raises(SecondRepresentativeRequired):
        ex.registry.representatives.set_second_representative(credit_code=dyeing, required=False,
                                                              by=me, at="2025-06-01T10:00:00+08:00")


def test_a_user_of_another_enterprise_cannot_confirm(ex: Exchange) -> None:
    dyeing, paper = ex.world.dyeing, ex.world.paper
    r = ex.client.post("/agreements", headers=ex.enterprise(dyeing),
                       json={"reference": "AG-OTHER", "instrument": COD, "buyer": paper,
                             "price": PRICE, "quantity": 5000})
    request_id = r.json()["id"]
    for headers in (ex.representative(paper), ex.enterprise(paper)):
        for code in (dyeing, paper):
            refused = ex.client.post(f"/enterprises/{code}/requests/{request_id}/confirm",
                                     headers=headers)
            assert refused.status_code == 404, refused.text
            assert refused.headers["content-type"] == PROBLEM
    other = ex.registry.users.user_by_login(f"rep.{paper.lower()}").user_id
    with pytest.raises(PermissionDenied):  # the registry checks the organisation itself
        ex.registry.requests.confirm_request(request_id=request_id, by=other,
                                             at="2025-06-01T10:00:00+08:00")
    assert ex.registry.proposals.proposal(request_id).state == "pending"
    with pytest.raises(NotFound):
        ex.registry.exchange_modes.agreement("AG-OTHER")


def test_one_administrator_token_cannot_take_a_retrofit_to_issuance(ex: Exchange) -> None:
    """The issue's run: one administrator registered a retrofit, filed its audits and
    verification and confirmed and issued it. Filing is the engaged agencies' (403), and
    confirmation and issuance are proposals its proposer cannot approve."""
    admin = ex.token("administrator", "wang.fang")
    r = ex.client.post("/retrofits", headers=admin,
                       json={"reference": "RF-ALONE", "enterprise": ex.world.dyeing,
                             "period": 2025, "kinds": ["COD"],
                             "description": "flue-gas retrofit keyed in by one person"})
    assert r.status_code == 201, r.text
    audit = {"report_sha256": "a" * 64, "amounts": {"COD": 1000}}
    for stage in ("baseline-audit", "post-audit"):
        refused = ex.client.post(f"/retrofits/RF-ALONE/{stage}", headers=admin, json=audit)
        assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    refused = ex.client.post("/retrofits/RF-ALONE/verification", headers=admin,
                             json={"report_sha256": "b" * 64, "reductions": {"COD": 1}})
    assert refused.status_code == 403
    # the sensitive steps of an issued retrofit are proposals: its revocation waits for
    # another administrator, and its proposer's own approval is refused
    proposed = ex.client.post("/retrofits/RF-COD/revocation", headers=admin,
                              json={"reason": "one person's say-so", "spot_check": "SC-X"})
    assert proposed.status_code == 202, proposed.text
    own = ex.client.post(f"/proposals/{proposed.json()['id']}/approve", headers=admin)
    assert own.status_code == 403 and own.json()["type"].endswith("/four-eyes-violation")
    assert ex.registry.retrofit("RF-COD").state == "issued"


def test_issuing_a_token_is_an_event_naming_its_issuer_with_its_hash_only(ex: Exchange) -> None:
    admin = ex.token("administrator", "wang.fang")
    login = f"trader.{ex.world.power.lower()}"
    ex.token("enterprise", ex.world.power)  # the user exists
    issued = ex.client.post("/tokens", headers=admin, json={"user": login})
    assert issued.status_code == 201, issued.text
    secret, token_id = issued.json()["secret"], issued.json()["id"]
    (event,) = [vars(e) for _, e in stored_events(ex.registry)
                if type(e).__name__ == "TokenIssued" and vars(e)["token_id"] == token_id]
    wang = ex.registry.users.user_by_login("wang.fang").user_id
    assert (event["by"], event["actor"]) == (wang, wang)
    assert len(event["token_hash"]) == 64 and secret not in repr(event)
