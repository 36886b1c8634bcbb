"""The bypasses an outside tester found (issue 12), each as a named test over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.events import stored_events
from tests.support.exchange_world import Exchange, open_exchange

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
    wang = ex.registry.user_by_login("wang.fang").user_id
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
    before = ex.registry.cash_account(ex.world.paper).balance
    r = ex.client.post(f"/cash/{ex.world.paper}/deposits", headers=admin,
                       json={"amount": 60_000_000, "reference": "SELF-1"})
    assert r.status_code == 202
    mine = ex.client.post(f"/proposals/{r.json()['id']}/approve", headers=admin)
    assert mine.status_code == 403 and mine.json()["type"].endswith("/four-eyes-violation")
    assert ex.registry.cash_account(ex.world.paper).balance == before


def test_rate_limits_key_on_the_user_not_the_header_spelling(tmp_path: Path) -> None:
    env = {"REGISTRY_RATE_LIMIT": "3/minute"}
    for ex in open_exchange(tmp_path, store=env):
        secret = ex.token("auditor", "li.wei")["Authorization"].split(" ", 1)[1]
        codes = [ex.client.get("/markets", headers={"Authorization": f"{scheme} {secret}"}
                               ).status_code
                 for scheme in ("Bearer", "bearer", "BEARER", "BeArEr")]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429


def test_random_invalid_tokens_are_limited(tmp_path: Path) -> None:
    for ex in open_exchange(tmp_path, store={"REGISTRY_BAD_TOKEN_LIMIT": "5/minute"}):
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

    admin = ex.registry.user_by_login("wang.fang")
    ex.registry.set_password(user_id=admin.user_id, password="a long passphrase!",
                             by=admin.user_id, at=datetime.now(UTC).isoformat())
    secret = ex.registry.enroll_second_factor(user_id=admin.user_id, by=admin.user_id,
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
