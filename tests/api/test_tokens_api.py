"""Administrators issue, list and revoke API tokens over HTTP; the secret is shown once."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.tokens import bearer
from tests.world import code

AGENCY = code(1, prefix="91440101MA9X")


pytest_plugins = ["tests.api.seeded_folder"]  # folder, client



@pytest.fixture
def admin(folder: Path) -> dict[str, str]:
    return bearer(folder, "administrator", "wang.fang")


def token_count(folder: Path) -> int:
    with sqlite3.connect(folder / "tokens.sqlite") as db:
        return int(db.execute("SELECT count(*) FROM tokens").fetchone()[0])


def test_administrator_issues_an_enterprise_token_that_works(
        client: TestClient, admin: dict[str, str]) -> None:
    response = client.post("/tokens", json={"role": "enterprise", "enterprise": code(1),
                                            "days": 7}, headers=admin)
    assert response.status_code == 201
    issued = response.json()
    assert issued["role"] == "enterprise" and issued["subject"] == code(1)
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    store = client.app.state.registry_state.tokens  # type: ignore[attr-defined]
    principal = store.verify(issued["secret"], now=datetime.now(UTC))
    assert principal is not None and principal.subject == code(1)
    # It authenticates: an enterprise may not read the auditors' feed (403, not 401).
    feed = client.get("/ledger/entries", headers={"Authorization": f"Bearer {issued['secret']}"})
    assert feed.status_code == 403


def test_the_list_shows_tokens_but_never_a_secret(client: TestClient,
                                                 admin: dict[str, str]) -> None:
    secret = client.post("/tokens", json={"role": "agency", "agency": AGENCY},
                         headers=admin).json()["secret"]
    response = client.get("/tokens", headers=admin)
    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 2
    assert {(t["role"], t["subject"]) for t in page["items"]} == {
        ("agency", AGENCY), ("administrator", "wang.fang")}
    assert secret not in response.text and "secret" not in response.text
    assert client.get("/tokens", params={"limit": 1}, headers=admin).json()["items"][0][
        "subject"] in {AGENCY, "wang.fang"}


def test_a_revoked_token_answers_401(client: TestClient, admin: dict[str, str]) -> None:
    issued = client.post("/tokens", json={"role": "auditor", "name": "zhao.min"},
                         headers=admin).json()
    auditor = {"Authorization": f"Bearer {issued['secret']}"}
    assert client.get("/ledger/entries", headers=auditor).status_code == 200
    assert client.delete(f"/tokens/{issued['id']}", headers=admin).status_code == 204
    assert client.get("/ledger/entries", headers=auditor).status_code == 401
    listed = {t["id"]: t for t in client.get("/tokens", headers=admin).json()["items"]}
    assert listed[issued["id"]]["revoked_at"] is not None
    again = client.delete(f"/tokens/{issued['id']}", headers=admin)
    assert again.status_code == 404
    assert again.headers["content-type"] == "application/problem+json"


def test_only_administrators_manage_tokens(client: TestClient, folder: Path) -> None:
    body = {"role": "administrator", "name": "mallory"}
    assert client.post("/tokens", json=body).status_code == 401
    for role, subject in (("enterprise", code(1)), ("auditor", "li.wei"), ("agency", AGENCY)):
        headers = bearer(folder, role, subject)
        assert client.post("/tokens", json=body, headers=headers).status_code == 403
        assert client.get("/tokens", headers=headers).status_code == 403
        assert client.delete("/tokens/0123456789abcdef", headers=headers).status_code == 403
    assert token_count(folder) == 3


@pytest.mark.parametrize("body", [
    {"role": "enterprise"},
    {"role": "enterprise", "enterprise": code(99)},  # well formed, not registered
    {"role": "enterprise", "enterprise": "91440300MA5F000010"},  # bad check character
    {"role": "enterprise", "enterprise": code(1), "name": "x"},
    {"role": "agency", "agency": code(1)},  # an enterprise, not an agency
    {"role": "administrator"},
    {"role": "auditor", "name": "li.wei", "enterprise": code(1)},
    {"role": "superuser", "name": "root"},
    {"role": "auditor", "name": "li.wei", "days": 0},
    {"role": "auditor", "name": "li.wei", "days": 400},
    {"role": "auditor", "name": "li.wei", "scope": "all"},
])
def test_bad_requests_are_422_and_issue_nothing(client: TestClient, admin: dict[str, str],
                                                folder: Path, body: dict[str, object]) -> None:
    response = client.post("/tokens", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert token_count(folder) == 1
