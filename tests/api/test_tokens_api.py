"""Tokens of users over HTTP: an administrator issues one for a named existing user (recorded
as issued by it), never for another administrator or auditor; users issue and revoke their
own; lists never show a secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.tokens import bearer
from tests.support.world import code

AGENCY = code(1, prefix="91440101MA9X")
TRADER = f"trader.{code(1).lower()}"

pytest_plugins = ["tests.support.seeded_folder"]  # folder, client


@pytest.fixture
def admin(folder: Path) -> dict[str, str]:
    bearer(folder, "enterprise", code(1))  # the trader exists
    bearer(folder, "agency", AGENCY)
    return bearer(folder, "administrator", "wang.fang")


def tokens(client: TestClient) -> int:
    registry = client.app.state.registry_state.registry  # type: ignore[attr-defined]
    return sum(len(u.tokens) for u in registry.users.users())


def test_administrator_issues_an_enterprise_users_token_that_works(
        client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/tokens", json={"user": TRADER, "days": 7}, headers=admin)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["role"] == "enterprise" and issued["subject"] == code(1)
    assert issued["login"] == TRADER and issued["secret"].startswith(issued["user_id"] + ".")
    wang = client.get("/users/me", headers=admin).json()["id"]
    assert issued["issued_by"] == wang  # recorded as issued by the administrator
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    # It authenticates: an enterprise may not read the auditors' feed (403, not 401).
    feed = client.get("/ledger/entries", headers={"Authorization": f"Bearer {issued['secret']}"})
    assert feed.status_code == 403


def test_the_list_shows_tokens_but_never_a_secret(client: TestClient,
                                                 admin: dict[str, str]) -> None:
    secret = client.post("/tokens", json={"user": f"staff.{AGENCY.lower()}"},
                         headers=admin).json()["secret"]
    response = client.get("/tokens", headers=admin, params={"limit": 200})
    assert response.status_code == 200
    page = response.json()
    assert ("agency", AGENCY) in {(t["role"], t["subject"]) for t in page["items"]}
    assert secret not in response.text and "secret" not in response.text


def test_a_revoked_token_answers_401(client: TestClient, admin: dict[str, str]) -> None:
    issued = client.post("/tokens", json={"user": TRADER}, headers=admin).json()
    trader = {"Authorization": f"Bearer {issued['secret']}"}
    assert client.get(f"/holdings/{code(1)}", headers=trader).status_code == 200
    assert client.delete(f"/tokens/{issued['id']}", headers=admin).status_code == 204
    assert client.get(f"/holdings/{code(1)}", headers=trader).status_code == 401
    listed = {t["id"]: t for t in client.get("/tokens", headers=admin,
                                             params={"limit": 200}).json()["items"]}
    assert listed[issued["id"]]["revoked_at"] is not None
    assert listed[issued["id"]]["revoked_by"] == client.get(
        "/users/me", headers=admin).json()["id"]
    again = client.delete(f"/tokens/{issued['id']}", headers=admin)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


def test_a_user_issues_and_revokes_its_own_tokens(client: TestClient,
                                                  admin: dict[str, str]) -> None:
    mine = client.post("/users/me/tokens", json={"days": 2}, headers=admin)
    assert mine.status_code == 201 and mine.headers["cache-control"] == "no-store"
    second = {"Authorization": f"Bearer {mine.json()['secret']}"}
    assert client.get("/users/me", headers=second).json()["login"] == "wang.fang"
    listed = client.get("/users/me/tokens", headers=second).json()["items"]
    assert mine.json()["id"] in {t["id"] for t in listed}
    assert client.delete(f"/users/me/tokens/{mine.json()['id']}",
                         headers=admin).status_code == 204
    assert client.get("/users/me", headers=second).status_code == 401


def test_only_administrators_manage_tokens(client: TestClient, folder: Path,
                                           admin: dict[str, str]) -> None:
    body = {"user": TRADER}
    assert client.post("/tokens", json=body).status_code == 401
    for role, subject in (("enterprise", code(1)), ("auditor", "li.wei"), ("agency", AGENCY)):
        headers = bearer(folder, role, subject)
        before = tokens(client)
        assert client.post("/tokens", json=body, headers=headers).status_code == 403
        assert client.get("/tokens", headers=headers).status_code == 403
        assert client.delete("/tokens/0123456789abcdef", headers=headers).status_code == 403
        assert tokens(client) == before


@pytest.mark.parametrize("body", [
    {},
    {"user": "nobody.here"},  # well formed, no such user (404)
    {"user": "Not A Login"},
    {"user": TRADER, "days": 0},
    {"user": TRADER, "days": 400},
    {"user": TRADER, "role": "administrator"},  # no free-text roles or names any more
    {"role": "administrator", "name": "mallory"},
    {"role": "agency", "agency": AGENCY},
])
def test_bad_requests_are_refused_and_issue_nothing(client: TestClient, admin: dict[str, str],
                                                    body: dict[str, object]) -> None:
    before = tokens(client)
    response = client.post("/tokens", json=body, headers=admin)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert tokens(client) == before
