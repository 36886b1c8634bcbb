"""Bearer tokens: hashed at rest, expiring, revocable; roles gate the auditors' ledger feed."""

from __future__ import annotations

import base64
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cli import main
from registry.bootstrap import build_registry
from registry.seed_users import founders, user_for
from registry.user_changes import UserChanges
from tests.support.tokens import NOW
from tests.support.tokens import issue as token
from tests.support.world import code

pytest_plugins = ["tests.support.seeded_folder"]  # folder, client


def entries(client: TestClient, secret: str | None, **params: int) -> object:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    return client.get("/ledger/entries", params=params, headers=headers)


def test_auditor_reads_the_leaves(client: TestClient, folder: Path) -> None:
    _, secret = token(folder, "auditor", "li.wei")
    response = entries(client, secret, start=2, limit=3)
    assert response.status_code == 200  # type: ignore[attr-defined]
    rows = response.json()  # type: ignore[attr-defined]
    ledger = client.app.state.registry_state.ledger  # type: ignore[attr-defined]
    assert [r["index"] for r in rows] == [2, 3, 4]
    assert base64.b64decode(rows[0]["leaf"]) == ledger.leaf(2)


@pytest.mark.parametrize("secret", [None, "not-a-token"])
def test_missing_or_unknown_token_is_401(client: TestClient, secret: str | None) -> None:
    response = entries(client, secret)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.headers["www-authenticate"] == "Bearer"  # type: ignore[attr-defined]


def test_expired_and_revoked_tokens_are_401(client: TestClient, folder: Path) -> None:
    registry = client.app.state.registry_state.registry  # type: ignore[attr-defined]
    user = user_for(registry, "auditor", "li.wei")
    _, old = registry.users.issue_token(user_id=user.user_id, by=user.user_id,
                                        at=(NOW - timedelta(days=2)).isoformat(), days=1)
    token_id, revoked = registry.users.issue_token(user_id=user.user_id, by=user.user_id,
                                                   at=NOW.isoformat(), days=1)
    registry.users.revoke_token(user_id=user.user_id, token_id=token_id, by=user.user_id,
                                at=NOW.isoformat())
    assert entries(client, old).status_code == 401  # type: ignore[attr-defined]
    assert entries(client, revoked).status_code == 401  # type: ignore[attr-defined]


def test_a_suspended_users_token_is_401(client: TestClient, folder: Path) -> None:
    registry = client.app.state.registry_state.registry  # type: ignore[attr-defined]
    _, secret = token(folder, "auditor", "li.wei")
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    user = registry.users.user_by_login("li.wei")
    one, _ = founders(registry, NOW.isoformat())
    registry.users.suspend_user(user_id=user.user_id, reason="left", by=one, at=NOW.isoformat())
    assert entries(client, secret, limit=1).status_code == 401  # type: ignore[attr-defined]


def test_an_enterprise_token_may_not_read_the_feed(client: TestClient, folder: Path) -> None:
    _, secret = token(folder, "enterprise", code(1))
    response = entries(client, secret)
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert response.json()["type"].endswith("/forbidden")  # type: ignore[attr-defined]


def test_tokens_are_stored_only_as_hashes(folder: Path) -> None:
    _, secret = token(folder, "administrator", "wang.fang")
    for name in ("registry.sqlite", "credentials.sqlite"):
        with sqlite3.connect(folder / name) as db:
            dump = "\n".join(db.iterdump())
        assert secret not in dump
        assert secret.rsplit(".", 1)[1] not in dump
        assert (folder / name).stat().st_mode & 0o077 == 0  # data files: owner only


def test_cli_issues_a_working_token(client: TestClient, folder: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _, own = token(folder, "auditor", "zhao.min")  # the user exists, acting by its token
    env = {"REGISTRY_DATA_DIR": str(folder), "REGISTRY_TOKEN": own}
    assert main(["token", "create", "--days", "7"], env=env) == 0  # a further one of its own
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    assert main(["token", "create", "--user", "nobody"], env=env) == 2
    assert main(["token", "create"], env={"REGISTRY_DATA_DIR": str(folder)}) == 2


def test_a_token_revoked_by_the_cli_beside_the_service_is_refused_at_once(
        client: TestClient, folder: Path) -> None:
    token_id, secret = token(folder, "auditor", "li.wei")
    _, own = token(folder, "auditor", "li.wei")
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    # another process's write: the CLI with its own connection to the store
    env = {"REGISTRY_DATA_DIR": str(folder), "REGISTRY_TOKEN": own}
    assert main(["token", "revoke", token_id], env=env) == 0
    assert entries(client, secret, limit=1).status_code == 401  # type: ignore[attr-defined]
    assert entries(client, own, limit=1).status_code == 200  # type: ignore[attr-defined]


def test_a_role_withdrawn_by_another_process_counts_at_once(client: TestClient,
                                                            folder: Path) -> None:
    _, secret = token(folder, "auditor", "li.wei")
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    other = build_registry({"REGISTRY_DATA_DIR": str(folder)})  # a connection of its own
    try:
        user = other.users.user_by_login("li.wei")
        one, _ = founders(other, NOW.isoformat())
        other.users.suspend_user(user_id=user.user_id, reason="left", by=one, at=NOW.isoformat())
    finally:
        other.close()
    assert entries(client, secret, limit=1).status_code == 401  # type: ignore[attr-defined]


def test_a_kept_verdict_is_used_while_no_user_event_is_stored(
        client: TestClient, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = client.app.state.registry_state  # type: ignore[attr-defined]
    _, secret = token(folder, "auditor", "li.wei")
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    reads: list[str] = []
    real = state.registry.users.verify_token

    def counted(secret: str, now: datetime) -> object:
        reads.append(secret)
        return real(secret, now)

    monkeypatch.setattr(state.registry.users, "verify_token", counted)
    for _ in range(3):  # other writes (not of users) leave the verdict standing
        assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    assert reads == []
    token(folder, "auditor", "zhao.min")  # a user event: the next request reads the user again
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    assert reads == [secret]


def test_the_user_change_mark_counts_user_events_only(folder: Path) -> None:
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        changes = UserChanges.open(registry)
        assert changes is not None
        user = user_for(registry, "auditor", "li.wei")
        before = changes.mark()
        assert before is not None
        registry.users.issue_token(user_id=user.user_id, by=user.user_id, at=NOW.isoformat(),
                                   days=1)
        assert changes.mark() == before + 1
        registry.exchange.deposit(enterprise=code(1), amount=1, reference="MARK-1",
                                  administrator="admin-cash", at=NOW.isoformat())
        assert changes.mark() == before + 1
        changes.close()
    finally:
        registry.close()


def test_reading_the_mark_leaves_no_read_transaction_open(folder: Path) -> None:
    """The mark is read with one step of its statement: the statement is reset once read, so
    the next read sees what was committed since and the WAL can be checkpointed meanwhile."""
    registry = build_registry({"REGISTRY_DATA_DIR": str(folder)})
    try:
        changes = UserChanges.open(registry)
        assert changes is not None
        before = changes.mark()
        assert before is not None
        path = next(row[2] for row in changes._db.execute("PRAGMA database_list")
                    if row[1] == "main")
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("UPDATE user_changes SET seq = seq + 1 WHERE id = 1")
            assert changes.mark() == before + 1
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0  # no reader holds an old snapshot
            other.execute("UPDATE user_changes SET seq = seq - 1 WHERE id = 1")
            assert changes.mark() == before
        finally:
            other.close()
        changes.close()
    finally:
        registry.close()


def test_kept_verdicts_do_not_hold_the_secret(client: TestClient, folder: Path) -> None:
    state = client.app.state.registry_state  # type: ignore[attr-defined]
    _, secret = token(folder, "auditor", "li.wei")
    assert entries(client, secret, limit=1).status_code == 200  # type: ignore[attr-defined]
    kept = state.verdicts._verdicts
    assert len(kept) == 1 and secret not in kept and secret not in repr(kept)
